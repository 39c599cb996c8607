package main

import (
	tea "github.com/charmbracelet/bubbletea"

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
	// screenOptions are more options for the full-screen lesson's
	// program, for tests.
	screenOptions []tea.ProgramOption
}

// callConfig returns a fresh configuration for one call on this
// environment's network, as the options say.
func (d *env) callConfig(script story.Script, o *callOptions) call.Config {
	cfg := call.Config{Script: script, Latency: o.Latency, Bandwidth: o.Bandwidth, Jitter: o.Jitter, Seed: o.seed(), Every: o.Every}
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
	keyWidth := 0
	for _, m := range modes.All() {
		keyWidth = max(keyWidth, len(m.Key))
	}
	list := func(ms []call.Mode) string {
		var b strings.Builder
		for _, m := range ms {
			fmt.Fprintf(&b, "  %-*s  %s\n", keyWidth, m.Key, m.Transport)
		}
		return b.String()
	}
	ends := modes.Ends()
	root := &cobra.Command{
		Use:   "duplexdemo",
		Short: "See half duplex and full duplex happen, measured on real sockets",
		Long: fmt.Sprintf(`duplexdemo plays one conversation for real, on 127.0.0.1, in the mode you
choose: a grandchild calls grandma, asks about her childhood, tries to
interrupt her story, and grandma remembers something after the story is over.

Start with the lesson, duplexdemo walkthrough: nine chapters, each with a
live call. Then play any mode alone:

%s
%s is half duplex: one side talks at a time. %s is full duplex: both
sides talk whenever they like. The modes between are the tricks web pages
used before WebSocket. Beneath and beyond them: is HTTP itself half duplex?

%s
Run them, then compare what the same moments cost (compare --all).

Each run prints a live log as things happen, a swimlane per side and a
summary. Every wait it shows was measured on the connection, never scripted.`, list(modes.Web()), ends[0].Key, ends[1].Key, list(modes.Beneath())),
		Example: `  duplexdemo walkthrough
  duplexdemo walkie
  duplexdemo phone --latency 100ms
  duplexdemo compare --all
  duplexdemo walkie --json | jq .summary.interruption`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Arguments reach RunE, so an unknown command is a usage error.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(cmd, args[0])
			}
			return cmd.Help()
		},
	}
	root.SetIn(deps.In)
	root.SetOut(deps.Out)
	root.SetErr(deps.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	root.Version = buildInfo()
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(newCmdWalkthrough(deps), newCmdCompare(deps), newCmdServe(deps), newCmdReport(deps), newCmdVersion(deps), newCmdMan(deps))
	for _, m := range modes.All() {
		root.AddCommand(newCmdMode(deps, m))
	}
	completeChoices(root)
	root.SuggestionsMinimumDistance = 2
	root.SetHelpCommand(newCmdHelp())
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			// An unknown shell is an error, not the completion's help.
			c.Args = cobra.ArbitraryArgs
			c.RunE = func(cmd *cobra.Command, args []string) error {
				if len(args) > 0 {
					return &usageError{fmt.Errorf("no completion for %q: want one of bash, zsh, fish or powershell", args[0])}
				}
				return cmd.Help()
			}
		}
	}
	// Help fits the terminal: flag lines wrap at its width (80 on a pipe).
	width := 80
	if deps.IsTerminal && deps.TerminalWidth >= 60 {
		width = min(deps.TerminalWidth, 120)
	}
	root.SetUsageTemplate(strings.NewReplacer(
		"{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}", fmt.Sprintf("{{.LocalFlags.FlagUsagesWrapped %d | trimTrailingWhitespaces}}", width),
		"{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}", fmt.Sprintf("{{.InheritedFlags.FlagUsagesWrapped %d | trimTrailingWhitespaces}}", width),
	).Replace(root.UsageTemplate()))
	return root
}

// unknownCommand is the usage error for a command that does not exist,
// with cobra's suggestions of the ones it may have meant.
func unknownCommand(root *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q", name)
	if s := root.SuggestionsFor(name); len(s) > 0 {
		return &usageError{fmt.Errorf("%s: did you mean %s?", msg, strings.Join(s, " or "))}
	}
	return &usageError{fmt.Errorf("%s: try walkthrough, compare, or one of %s", msg, strings.Join(modes.Keys(), ", "))}
}

// newCmdHelp builds the help command: help for a command, or a usage error
// for one that does not exist.
func newCmdHelp() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			target, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 || target == nil {
				name := strings.Join(args, " ")
				if len(rest) > 0 {
					name = rest[0]
				}
				return unknownCommand(root, name)
			}
			return target.Help()
		},
		ValidArgsFunction: func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
			var names []string
			for _, c := range cmd.Root().Commands() {
				if c.IsAvailableCommand() {
					names = append(names, c.Name())
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
	}
}
