package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/modes"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/view/render"
	"github.com/duplexdemo/duplexdemo/pkg/view/report"
)

// newCmdCompare builds the compare command: several modes at once, one
// table.
func newCmdCompare(deps *env) *cobra.Command {
	opts := &callOptions{}
	all := false
	var picked []string
	ends := modes.Ends()
	cmd := &cobra.Command{
		Use:   "compare",
		Short: fmt.Sprintf("Play the call as %s and as %s (or every way), and set them side by side", ends[0].Key, ends[1].Key),
		Long: fmt.Sprintf(`compare plays the same call several ways at once, with the same script on
the same emulated link, each on its own connection. By default it plays the
two ends of the lesson: %s (%s)
and %s (%s).
It prints one table, a row per measure and a column per mode, and every
call's swimlanes on one time axis.

With --all it plays every mode: the walkie-talkie, the tricks web pages used
before WebSocket, and the phone call,
  %s,
then what lies beneath them: HTTP/1.1 in full duplex, HTTP/2's streams,
WebTransport over QUIC, and raw TCP,
  %s.
Its table then shows what tells them apart: the connections each needs, the
round trips before the first line can leave, and the bytes of overhead each
line costs. --modes picks any of them, in the order given.`, ends[0].Key, ends[0].Transport, ends[1].Key, ends[1].Transport, keys(modes.Web()), keys(modes.Beneath())),
		Example: `  duplexdemo compare
  duplexdemo compare --latency 150ms --pace 500ms
  duplexdemo compare --json
  duplexdemo compare --all
  duplexdemo compare --modes poll,longpoll,sse --every 100ms
  duplexdemo compare --html lesson.html --trace-out lesson.json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			chosen, err := chooseModes(all, picked)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("every") && !anyPolls(chosen) {
				return &usageError{errors.New("--every is for a mode that polls: add it with --modes, or use --all")}
			}
			return runCompare(cmd.Context(), deps, opts, chosen)
		},
	}
	addCallFlags(cmd.Flags(), opts)
	addExportFlags(cmd.Flags(), &opts.Export)
	boolFlag(cmd.Flags(), &all, "all", "play every mode: "+strings.Join(modes.Keys(), ", "))
	cmd.Flags().StringSliceVar(&picked, "modes", nil, fmt.Sprintf("play these modes, in this order (default %s,%s)", ends[0].Key, ends[1].Key))
	_ = cmd.RegisterFlagCompletionFunc("modes", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return modes.Keys(), cobra.ShellCompDirectiveNoFileComp
	})
	for _, m := range modes.All() {
		if m.Every != nil {
			addEveryFlag(cmd.Flags(), opts, *m.Every, fmt.Sprintf("how often %s polls", m.Key))
			break
		}
	}
	return cmd
}

// chooseModes returns the modes --all or --modes names, or the lesson's
// two ends.
func chooseModes(all bool, picked []string) ([]call.Mode, error) {
	switch {
	case all && len(picked) > 0:
		return nil, &usageError{errors.New("--all and --modes both choose the modes: give one of them")}
	case all:
		return modes.All(), nil
	case picked == nil:
		return modes.Ends(), nil
	}
	for i, key := range picked {
		picked[i] = strings.TrimSpace(key)
	}
	if len(picked) < 2 {
		return nil, &usageError{fmt.Errorf("--modes %q: name at least two of %s to set side by side", strings.Join(picked, ","), strings.Join(modes.Keys(), ", "))}
	}
	var chosen []call.Mode
	seen := map[string]bool{}
	for _, key := range picked {
		m, ok := modes.Lookup(key)
		if !ok {
			return nil, &usageError{fmt.Errorf("--modes %s: no mode %q; want some of %s", strings.Join(picked, ","), key, strings.Join(modes.Keys(), ", "))}
		}
		if seen[key] {
			return nil, &usageError{fmt.Errorf("--modes %s: %s is named twice; name each mode once", strings.Join(picked, ","), key)}
		}
		seen[key] = true
		chosen = append(chosen, m)
	}
	return chosen, nil
}

func anyPolls(ms []call.Mode) bool {
	for _, m := range ms {
		if m.Every != nil {
			return true
		}
	}
	return false
}

// runCompare plays the calls at once and prints them side by side, or with
// --json one object with every call's report and the table.
func runCompare(ctx context.Context, deps *env, opts *callOptions, chosen []call.Mode) error {
	script, err := story.New(opts.Story)
	if err != nil {
		return asUsage(err)
	}
	if err := photoCarried(chosen, call.Config{Script: script, Bandwidth: opts.Bandwidth}); err != nil {
		return err
	}
	ex, err := opts.Export.prepare(opts.JSON)
	if err != nil {
		return err
	}
	defer ex.discard()
	warnShortStory(deps, script, opts.Latency)
	results, err := modes.RunAll(ctx, func(call.Mode) call.Config { return deps.callConfig(script, opts) }, chosen)
	if err != nil {
		return asUsage(err)
	}
	reports := make([]report.Call, len(results))
	keys := make([]string, len(results))
	tls := make([]*timeline.Timeline, len(results))
	for i, r := range results {
		reports[i], keys[i], tls[i] = report.Build(r), r.Mode.Key, r.Timeline
	}
	t := report.Compare(reports...)
	switch {
	case opts.JSON:
		if err := writeJSON(deps, t); err != nil {
			return err
		}
	case !ex.stdout:
		style := opts.style(deps)
		warnNarrow(deps, opts, style)
		var b bytes.Buffer
		if err := render.Compare(&b, t, style); err != nil {
			return err
		}
		b.WriteString("\n")
		lanes, total := render.CallLanes(keys, tls)
		if err := render.Swimlanes(&b, lanes, total, style); err != nil {
			return err
		}
		if _, err := deps.Out.Write(b.Bytes()); err != nil {
			return fmt.Errorf("printing: %w", err)
		}
	}
	return ex.finish(deps.Out, deps.ErrOut, results...)
}

// addEveryFlag registers --every, a polling period within b.
func addEveryFlag(fs *pflag.FlagSet, o *callOptions, b call.Bounds, usage string) {
	o.Every = b.Default
	fs.Var(&durationValue{p: &o.Every, max: b.Max, min: b.Min}, "every", fmt.Sprintf("%s (%v to %v)", usage, b.Min, b.Max))
}

// keys returns the modes' keys, as a list for people.
func keys(ms []call.Mode) string {
	var k []string
	for _, m := range ms {
		k = append(k, m.Key)
	}
	return strings.Join(k, ", ")
}
