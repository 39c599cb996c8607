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
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/view/render"
	"github.com/duplexdemo/duplexdemo/pkg/view/report"
)

// newCmdMode builds the command that plays one call in mode m: its name,
// help and flags all come from the mode.
func newCmdMode(deps *env, m call.Mode) *cobra.Command {
	opts := &callOptions{}
	cmd := &cobra.Command{
		Use:     m.Key,
		Short:   m.Help.Short,
		Long:    m.Help.Long,
		Example: m.Help.Example,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMode(cmd.Context(), deps, opts, m)
		},
	}
	addCallFlags(cmd.Flags(), opts)
	addExportFlags(cmd.Flags(), &opts.Export)
	if m.Remote != nil {
		addServerFlag(cmd.Flags(), opts)
	} else {
		// Not offered, but understood: one clear line, not "unknown flag".
		cmd.Flags().StringVar(&opts.Server, "server", "", "")
		_ = cmd.Flags().MarkHidden("server") // it is there: marking it cannot fail
	}
	if m.Every != nil {
		addEveryFlag(cmd.Flags(), opts, *m.Every, "how often the grandchild polls")
	}
	return cmd
}

// runMode plays one call and prints it: a live log, the swimlanes and the
// summary, or with --json only the report.
func runMode(ctx context.Context, deps *env, opts *callOptions, m call.Mode) error {
	if m.Remote == nil && opts.Server != "" {
		var keys []string
		for _, r := range remoteModes() {
			keys = append(keys, r.Key)
		}
		return &usageError{fmt.Errorf("--server: %s plays only in this process, grandma beside the grandchild; duplexdemo serve takes %s", m.Key, wordList(keys))}
	}
	script, err := story.New(opts.Story)
	if err != nil {
		return asUsage(err)
	}
	ex, err := opts.Export.prepare(opts.JSON)
	if err != nil {
		return err
	}
	defer ex.discard()
	warnShortStory(deps, script, opts.Latency)
	if err := photoCarried([]call.Mode{m}, call.Config{Script: script, Bandwidth: opts.Bandwidth}); err != nil {
		return err
	}
	cfg := deps.callConfig(script, opts)
	title := strings.ToUpper(m.Name)
	if m.Title != nil {
		title = m.Title(cfg)
	}
	run := func(ctx context.Context, cfg call.Config) (*result.Result, error) { return call.Run(ctx, m, cfg) }
	var note string // where the class finds the call, said last
	if opts.Server != "" {
		cfg.Listener, cfg.Dial = nil, nil // a grandma elsewhere is on the real network
		cfg.Student = studentName(deps, opts.Student)
		run = func(ctx context.Context, cfg call.Config) (*result.Result, error) {
			res, err := call.RunRemote(ctx, m, cfg, opts.Server)
			note, err = reported(deps, res, cfg.Student, err)
			return res, remoteError(err, opts.Server)
		}
		defer func() {
			switch {
			case note == "":
			case opts.JSON || ex.stdout: // standard output is the JSON's, or the diagram's
				fmt.Fprint(deps.ErrOut, "duplexdemo: "+strings.ToLower(note[:1])+note[1:])
			default:
				fmt.Fprint(deps.Out, "\n"+note)
			}
		}()
		title += " (grandma at " + strings.TrimPrefix(opts.Server, "http://") + ")"
	}
	if opts.JSON || ex.stdout {
		res, err := run(ctx, cfg)
		if err != nil {
			return asUsage(err)
		}
		if opts.JSON {
			if err := writeJSON(deps, report.Build(res)); err != nil {
				return err
			}
		}
		return ex.finish(deps.Out, deps.ErrOut, res)
	}
	style := opts.style(deps)
	warnNarrow(deps, opts, style)
	live := render.NewLiveLog(deps.Out, style)
	live.Header(title)
	cfg.Observer = live.Observe
	res, err := run(ctx, cfg)
	if lerr := live.Close(); err == nil {
		err = lerr
	}
	if err != nil {
		return asUsage(err)
	}
	var b bytes.Buffer
	if res.Alignment != nil {
		// Grandma's side was not seen live: it came in her record at the end.
		fmt.Fprintf(&b, "\nGrandma's side, from the record she handed over at the end\n(her clock aligned to within %s):\n", result.DurationText(res.Alignment.Uncertainty))
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
	rep := report.Build(res)
	if err := render.Swimlanes(&b, append(render.Lanes(res.Timeline), render.LinkLanes(rep)...), res.Timeline.Duration, style); err != nil {
		return err
	}
	b.WriteString("\n")
	if err := render.Summary(&b, rep, style); err != nil {
		return err
	}
	if _, err := deps.Out.Write(b.Bytes()); err != nil {
		return err
	}
	return ex.finish(deps.Out, deps.ErrOut, res)
}

// writeJSON prints v as indented JSON.
func writeJSON(deps *env, v any) error {
	enc := json.NewEncoder(deps.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// warnNarrow tells a terminal that is narrower than the picture that its
// lines will wrap.
func warnNarrow(deps *env, opts *callOptions, style render.Style) {
	if deps.IsTerminal && opts.Width == 0 && deps.TerminalWidth > 0 && deps.TerminalWidth < style.Width {
		fmt.Fprintf(deps.ErrOut, "duplexdemo: this terminal is %d columns wide and the picture needs %d; lines will wrap\n", deps.TerminalWidth, style.Width)
	}
}

// warnShortStory says when grandma's story is over sooner than a round
// trip of the link: then no interruption can reach her before she has
// finished, on any transport, and the lesson's point is lost.
func warnShortStory(deps *env, s story.Script, latency time.Duration) {
	if rt := 2 * latency; s.StoryEnd() < rt {
		fmt.Fprintf(deps.ErrOut, "duplexdemo: grandma's story lasts %v, less than a round trip of the link (%v): no interruption can reach her before she has finished; try a slower --pace or a shorter --latency\n", s.StoryEnd(), rt)
	}
}

// noArgs refuses positional arguments with a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return &usageError{fmt.Errorf("%s takes no arguments, only flags; got %q", cmd.CommandPath(), args[0])}
	}
	return nil
}
