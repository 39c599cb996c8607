package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
)

// Deps are what the commands take from the outside world: the standard
// streams and what is known about them, the environment, and the network.
// Tests pass buffers, say whether to act as on a terminal, and may pass an
// in-memory network.
type Deps struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// IsTerminal says whether Out is a terminal.
	IsTerminal bool
	// InIsTerminal says whether In is a terminal: only then does the
	// walkthrough wait for keys.
	InIsTerminal bool
	// TerminalWidth is Out's width in columns, when it is a terminal.
	TerminalWidth int
	// Getenv reads the environment (NO_COLOR).
	Getenv func(string) string
	// Network, if not nil, returns a fresh listener for grandma and the dial
	// that reaches it, for each call. nil means TCP on 127.0.0.1.
	Network func() (net.Listener, func(ctx context.Context, network, addr string) (net.Conn, error))
}

// callConfig returns a fresh configuration for one call on these
// dependencies' network.
func (d *Deps) callConfig(script story.Script, latency time.Duration) call.Config {
	cfg := call.Config{Script: script, Latency: latency}
	if d.Network != nil {
		cfg.Listener, cfg.Dial = d.Network()
	}
	return cfg
}

// usageError is an error in how the command was called: exit status 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() + " (see --help)" }
func (e *usageError) Unwrap() error { return e.err }

// asUsage turns an invalid option reported by a library into a usage error
// that names the flag.
func asUsage(err error) error {
	var oe *story.OptionError
	if errors.As(err, &oe) {
		return &usageError{fmt.Errorf("--%s %s: %s", oe.Option, oe.Value, oe.Want)}
	}
	return err
}

// NewCmdRoot builds the duplexdemo command and its subcommands.
func NewCmdRoot(deps *Deps) *cobra.Command {
	root := &cobra.Command{
		Use:   "duplexdemo",
		Short: "See half duplex and full duplex happen, measured on real sockets",
		Long: `duplexdemo plays one conversation for real, on 127.0.0.1, in the mode you
choose: a grandchild calls grandma, asks about her childhood, tries to
interrupt her story, and grandma remembers something after the story is over.

  walkie  over HTTP/1.1 request/response: one side talks at a time (half duplex)
  phone   over a WebSocket: both sides talk whenever they like (full duplex)

Run both and compare what the same moments cost.

Each run prints a live log as things happen, a swimlane per side and a
summary. Every wait it shows was measured on the connection, never scripted.`,
		Example: `  duplexdemo walkie
  duplexdemo phone --latency 100ms
  duplexdemo walkie --json | jq .summary.interruption`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Arguments reach RunE, so an unknown command is a usage error.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &usageError{fmt.Errorf("unknown command %q: try walkie or phone", args[0])}
			}
			return cmd.Help()
		},
	}
	root.SetIn(deps.In)
	root.SetOut(deps.Out)
	root.SetErr(deps.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	root.AddCommand(NewCmdWalkthrough(deps), NewCmdWalkie(deps), NewCmdPhone(deps), NewCmdCompare(deps), NewCmdPoll(deps), NewCmdLongPoll(deps), NewCmdSSE(deps), NewCmdServe(deps))
	return root
}
