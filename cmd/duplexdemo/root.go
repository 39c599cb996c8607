package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/spf13/cobra"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/modes"
	"github.com/duplexdemo/duplexdemo/pkg/story"
)

// env is what the commands take from the outside world: the standard
// streams and what is known about them, the environment, and the network.
// Tests pass buffers, say whether to act as on a terminal, and may pass an
// in-memory network.
type env struct {
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

// callConfig returns a fresh configuration for one call on this
// environment's network, as the options say.
func (d *env) callConfig(script story.Script, o *callOptions) call.Config {
	cfg := call.Config{Script: script, Latency: o.Latency, Every: o.Every}
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

// newCmdRoot builds the duplexdemo command and its subcommands.
func newCmdRoot(deps *env) *cobra.Command {
	var list strings.Builder
	for _, m := range modes.All() {
		fmt.Fprintf(&list, "  %-9s %s\n", m.Key, m.Transport)
	}
	ends := modes.Ends()
	root := &cobra.Command{
		Use:   "duplexdemo",
		Short: "See half duplex and full duplex happen, measured on real sockets",
		Long: fmt.Sprintf(`duplexdemo plays one conversation for real, on 127.0.0.1, in the mode you
choose: a grandchild calls grandma, asks about her childhood, tries to
interrupt her story, and grandma remembers something after the story is over.

%s
%s is half duplex: one side talks at a time. %s is full duplex: both sides
talk whenever they like. The modes between are the tricks web pages used
before WebSocket. Run them, then compare what the same moments cost.

Each run prints a live log as things happen, a swimlane per side and a
summary. Every wait it shows was measured on the connection, never scripted.`, list.String(), ends[0].Key, ends[1].Key),
		Example: `  duplexdemo walkie
  duplexdemo phone --latency 100ms
  duplexdemo walkie --json | jq .summary.interruption`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Arguments reach RunE, so an unknown command is a usage error.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &usageError{fmt.Errorf("unknown command %q: try walkthrough, compare, or one of %s", args[0], strings.Join(modes.Keys(), ", "))}
			}
			return cmd.Help()
		},
	}
	root.SetIn(deps.In)
	root.SetOut(deps.Out)
	root.SetErr(deps.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	root.AddCommand(newCmdWalkthrough(deps), newCmdCompare(deps), newCmdServe(deps))
	for _, m := range modes.All() {
		root.AddCommand(newCmdMode(deps, m))
	}
	return root
}
