package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
	"github.com/duplexdemo/duplexdemo/pkg/render"
	"github.com/duplexdemo/duplexdemo/pkg/report"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/workarounds"
)

// mode is one way of carrying the call.
type mode struct {
	// Title heads the live log.
	Title string
	// Run plays the call.
	Run func(context.Context, call.Config) (*call.Result, error)
	// RunRemote plays the grandchild's side against a grandma elsewhere.
	RunRemote func(context.Context, call.Config, string) (*call.Result, error)
}

// NewCmdWalkie builds the walkie command: the call over HTTP/1.1.
func NewCmdWalkie(deps *Deps) *cobra.Command {
	opts := &CallOptions{}
	cmd := &cobra.Command{
		Use:   "walkie",
		Short: "The walkie-talkie: HTTP/1.1 request/response, one side talks at a time",
		Long: `walkie plays the call over HTTP/1.1, on one TCP connection, like a
walkie-talkie: whoever holds the channel talks, the other can only listen.

Grandma's story is the streamed answer to the question, so while she tells it
the grandchild's interruption, a second request, waits inside the HTTP client
for the one connection. And when grandma remembers something after the story,
she cannot say it: an HTTP server speaks only in reply to a request, so it
waits for the grandchild's goodbye and rides on that answer.`,
		Example: `  duplexdemo walkie
  duplexdemo walkie --latency 150ms --pace 400ms
  duplexdemo walkie --speed 4 --ascii
  duplexdemo walkie --json
  duplexdemo walkie --html walkie.html --trace-out walkie.json
  duplexdemo walkie --mermaid - > walkie.md`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMode(cmd.Context(), deps, opts, mode{
				Title:     "WALKIE-TALKIE: HTTP/1.1, one side talks at a time",
				Run:       halfduplex.Run,
				RunRemote: halfduplex.RunRemote,
			})
		},
	}
	addCallFlags(cmd.Flags(), opts)
	addExportFlags(cmd.Flags(), &opts.Export)
	addServerFlag(cmd.Flags(), opts)
	return cmd
}

// NewCmdPhone builds the phone command: the call over a WebSocket.
func NewCmdPhone(deps *Deps) *cobra.Command {
	opts := &CallOptions{}
	cmd := &cobra.Command{
		Use:   "phone",
		Short: "The phone call: one WebSocket, both sides talk whenever they like",
		Long: `phone plays the same call over a WebSocket, one TCP connection upgraded
from HTTP, like a phone call: both sides can talk at the same time.

Grandma sends her story sentence by sentence while the grandchild's
interruption travels the other way at once; she hears it mid-story and
answers straight away. Her afterthought is simply said when she thinks of
it, and goodbye is a WebSocket close handshake (1000, normal closure).`,
		Example: `  duplexdemo phone
  duplexdemo phone --latency 150ms --pace 400ms
  duplexdemo phone --speed 4 --color never
  duplexdemo phone --json
  duplexdemo phone --html phone.html --trace-out phone.json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMode(cmd.Context(), deps, opts, mode{
				Title:     "PHONE CALL: WebSocket, both sides talk at once",
				Run:       fullduplex.Run,
				RunRemote: fullduplex.RunRemote,
			})
		},
	}
	addCallFlags(cmd.Flags(), opts)
	addExportFlags(cmd.Flags(), &opts.Export)
	addServerFlag(cmd.Flags(), opts)
	return cmd
}

// NewCmdPoll builds the poll command: the call over HTTP/1.1 by polling.
func NewCmdPoll(deps *Deps) *cobra.Command {
	opts := &CallOptions{}
	every := workarounds.DefaultEvery
	cmd := &cobra.Command{
		Use:   "poll",
		Short: "Polling, before WebSocket: the client asks \"anything new?\" on a timer",
		Long: `poll plays the call the way web pages faked a server that speaks first,
before WebSocket: the grandchild posts her lines, and asks grandma for hers
with a GET every --every. Grandma cannot speak at all: every line she wants
to say, each sentence of her story included, waits for the next poll. The
summary counts the requests, the polls that brought nothing, and the bytes
they cost.`,
		Example: `  duplexdemo poll
  duplexdemo poll --every 1s
  duplexdemo poll --every 50ms --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMode(cmd.Context(), deps, opts, mode{
				Title: fmt.Sprintf("POLLING: HTTP/1.1, a poll every %v", every),
				Run: func(ctx context.Context, cfg call.Config) (*call.Result, error) {
					return workarounds.Run(ctx, cfg, every)
				},
			})
		},
	}
	addCallFlags(cmd.Flags(), opts)
	addExportFlags(cmd.Flags(), &opts.Export)
	cmd.Flags().Var(&durationValue{&every, false, workarounds.MaxEvery}, "every", fmt.Sprintf("how often the grandchild polls (%v to %v)", workarounds.MinEvery, workarounds.MaxEvery))
	return cmd
}

// NewCmdLongPoll builds the longpoll command: the call by long polling.
func NewCmdLongPoll(deps *Deps) *cobra.Command {
	opts := &CallOptions{}
	cmd := &cobra.Command{
		Use:   "longpoll",
		Short: "Long polling, before WebSocket: a request held open until the server has something",
		Long: `longpoll plays the call by long polling: the grandchild's poll is held open
by grandma until she has something to say, and a new poll goes out the
moment each answer arrives. No poll comes back empty, but grandma still
cannot speak while no poll is waiting: a line she wants between an answer
and the next poll's arrival waits a round trip of the link. The held poll
keeps one connection busy, so the grandchild's lines go on a second.`,
		Example: `  duplexdemo longpoll
  duplexdemo longpoll --latency 150ms
  duplexdemo longpoll --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMode(cmd.Context(), deps, opts, mode{
				Title: "LONG POLLING: HTTP/1.1, a poll held until grandma has something",
				Run:   workarounds.RunLong,
			})
		},
	}
	addCallFlags(cmd.Flags(), opts)
	addExportFlags(cmd.Flags(), &opts.Export)
	return cmd
}

// NewCmdSSE builds the sse command: grandma on server-sent events.
func NewCmdSSE(deps *Deps) *cobra.Command {
	opts := &CallOptions{}
	cmd := &cobra.Command{
		Use:   "sse",
		Short: "Server-sent events, before WebSocket: a stream down, POSTs up, two connections",
		Long: `sse plays the call with server-sent events: the grandchild opens an event
stream (text/event-stream) on which grandma says each line the moment she
wants to, and says her own lines in POST requests, which take a second
connection. Two one-way channels make a two-way call: the interruption
reaches grandma mid-story, and her afterthought goes at once, at the price of
a second connection and a request's headers for every line up.`,
		Example: `  duplexdemo sse
  duplexdemo sse --latency 150ms
  duplexdemo sse --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMode(cmd.Context(), deps, opts, mode{
				Title: "SERVER-SENT EVENTS: a stream down, POSTs up",
				Run:   workarounds.RunSSE,
			})
		},
	}
	addCallFlags(cmd.Flags(), opts)
	addExportFlags(cmd.Flags(), &opts.Export)
	return cmd
}

// runMode plays one call and prints it: a live log, the swimlanes and the
// summary, or with --json only the report.
func runMode(ctx context.Context, deps *Deps, opts *CallOptions, m mode) error {
	script, err := story.New(opts.Story)
	if err != nil {
		return asUsage(err)
	}
	ex, err := opts.Export.prepare(opts.JSON)
	if err != nil {
		return err
	}
	defer ex.discard()
	cfg := deps.callConfig(script, opts.Latency)
	if opts.Server != "" {
		cfg.Listener, cfg.Dial = nil, nil // a grandma elsewhere is on the real network
		run := m.RunRemote
		m.Run = func(ctx context.Context, cfg call.Config) (*call.Result, error) {
			res, err := run(ctx, cfg, opts.Server)
			return res, remoteError(err, opts.Server)
		}
		m.Title += " (grandma at " + strings.TrimPrefix(opts.Server, "http://") + ")"
	}
	if opts.JSON || ex.stdout {
		res, err := m.Run(ctx, cfg)
		if err != nil {
			return asUsage(err)
		}
		if opts.JSON {
			enc := json.NewEncoder(deps.Out)
			enc.SetIndent("", "  ")
			if err := enc.Encode(report.Build(res)); err != nil {
				return err
			}
		}
		return ex.finish(deps.Out, deps.ErrOut, res)
	}
	style := opts.style(deps)
	if deps.IsTerminal && opts.Width == 0 && deps.TerminalWidth > 0 && deps.TerminalWidth < style.Width {
		fmt.Fprintf(deps.ErrOut, "duplexdemo: this terminal is %d columns wide and the picture needs %d; lines will wrap\n", deps.TerminalWidth, style.Width)
	}
	live := render.NewLiveLog(deps.Out, style)
	live.Header(m.Title)
	cfg.Observer = live.Observe
	res, err := m.Run(ctx, cfg)
	if lerr := live.Close(); err == nil {
		err = lerr
	}
	if err != nil {
		return asUsage(err)
	}
	var b bytes.Buffer
	if res.Alignment != nil {
		// Grandma's side was not seen live: it came in her record at the end.
		fmt.Fprintf(&b, "\nGrandma's side, from the record she handed over at the end\n(her clock aligned to within %d ms):\n", res.Alignment.Uncertainty.Round(time.Millisecond).Milliseconds())
		replay := render.NewLiveLog(&b, style)
		replay.Header("")
		for _, e := range res.Timeline.Events {
			if e.Side == timeline.Server {
				replay.Observe(e)
			}
		}
		if err := replay.Close(); err != nil {
			return err
		}
	}
	b.WriteString("\n")
	if err := render.Swimlanes(&b, render.Lanes(res.Timeline), res.Timeline.Duration, style); err != nil {
		return err
	}
	b.WriteString("\n")
	if err := render.Summary(&b, report.Build(res), style); err != nil {
		return err
	}
	if _, err := deps.Out.Write(b.Bytes()); err != nil {
		return err
	}
	return ex.finish(deps.Out, deps.ErrOut, res)
}

// noArgs refuses positional arguments with a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return &usageError{fmt.Errorf("%s takes no arguments, only flags; got %q", cmd.CommandPath(), args[0])}
	}
	return nil
}
