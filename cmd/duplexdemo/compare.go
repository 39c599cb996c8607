package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/compare"
	"github.com/duplexdemo/duplexdemo/pkg/render"
	"github.com/duplexdemo/duplexdemo/pkg/report"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/workarounds"
)

// NewCmdCompare builds the compare command: both modes, one table.
func NewCmdCompare(deps *Deps) *cobra.Command {
	opts := &CallOptions{}
	all, every := false, workarounds.DefaultEvery
	cmd := &cobra.Command{
		Use:   "compare",
		Short: "Play the call as walkie and as phone, and set them side by side",
		Long: `compare plays the same call both ways at once, with the same script on the
same emulated link, each on its own connection: over HTTP/1.1 (walkie) and
over a WebSocket (phone). It prints one table, a row per measure and a
column per mode, and both calls' swimlanes on one time axis.

With --all it plays the call five ways at once: walkie, poll, longpoll, sse
and phone, the tricks before WebSocket between the walkie-talkie and the
phone call, in one table and one picture on one axis.`,
		Example: `  duplexdemo compare
  duplexdemo compare --latency 150ms --pace 500ms
  duplexdemo compare --json
  duplexdemo compare --all
  duplexdemo compare --html lesson.html --mermaid lesson.md --trace-out lesson.json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if all {
				return runCompareAll(cmd.Context(), deps, opts, every)
			}
			if cmd.Flags().Changed("every") {
				return &usageError{errors.New("--every is for --all, which includes polling")}
			}
			return runCompare(cmd.Context(), deps, opts)
		},
	}
	addCallFlags(cmd.Flags(), opts)
	addExportFlags(cmd.Flags(), &opts.Export)
	cmd.Flags().BoolVar(&all, "all", false, "play all five ways: walkie, poll, longpoll, sse, phone")
	cmd.Flags().Var(&durationValue{&every, false, workarounds.MaxEvery}, "every", fmt.Sprintf("with --all: how often poll polls (%v to %v)", workarounds.MinEvery, workarounds.MaxEvery))
	return cmd
}

// runCompare plays both calls at once and prints them side by side, or with
// --json one object holding both reports and the comparison.
func runCompare(ctx context.Context, deps *Deps, opts *CallOptions) error {
	script, err := story.New(opts.Story)
	if err != nil {
		return asUsage(err)
	}
	ex, err := opts.Export.prepare(opts.JSON)
	if err != nil {
		return err
	}
	defer ex.discard()
	walkie, phone, err := compare.Run(ctx, func() call.Config { return deps.callConfig(script, opts.Latency) })
	if err != nil {
		return asUsage(err)
	}
	c := report.Compare(report.Build(walkie), report.Build(phone))
	switch {
	case opts.JSON:
		enc := json.NewEncoder(deps.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(c); err != nil {
			return err
		}
	case !ex.stdout:
		style := opts.style(deps)
		var b bytes.Buffer
		if err := render.Compare(&b, c, style); err != nil {
			return err
		}
		b.WriteString("\n")
		lanes, total := render.CompareLanes(walkie.Timeline, phone.Timeline)
		if err := render.Swimlanes(&b, lanes, total, style); err != nil {
			return err
		}
		if _, err := deps.Out.Write(b.Bytes()); err != nil {
			return fmt.Errorf("printing: %w", err)
		}
	}
	return ex.finish(deps.Out, deps.ErrOut, walkie, phone)
}

// runCompareAll plays the call all five ways at once and prints them side
// by side, or with --json one object with every report and the table.
func runCompareAll(ctx context.Context, deps *Deps, opts *CallOptions, every time.Duration) error {
	script, err := story.New(opts.Story)
	if err != nil {
		return asUsage(err)
	}
	ex, err := opts.Export.prepare(opts.JSON)
	if err != nil {
		return err
	}
	defer ex.discard()
	modes := compare.All(every)
	results, err := compare.RunAll(ctx, func() call.Config { return deps.callConfig(script, opts.Latency) }, modes)
	if err != nil {
		return asUsage(err)
	}
	reports := make([]report.Report, len(results))
	names := make([]string, len(results))
	tls := make([]*timeline.Timeline, len(results))
	for i, r := range results {
		reports[i], names[i], tls[i] = report.Build(r), r.Mode, r.Timeline
	}
	t := report.CompareAll(reports)
	switch {
	case opts.JSON:
		enc := json.NewEncoder(deps.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(t); err != nil {
			return err
		}
	case !ex.stdout:
		style := opts.style(deps)
		var b bytes.Buffer
		if err := render.CompareAll(&b, t, style); err != nil {
			return err
		}
		b.WriteString("\n")
		lanes, total := render.CallLanes(names, tls)
		if err := render.Swimlanes(&b, lanes, total, style); err != nil {
			return err
		}
		if _, err := deps.Out.Write(b.Bytes()); err != nil {
			return fmt.Errorf("printing: %w", err)
		}
	}
	return ex.finish(deps.Out, deps.ErrOut, results...)
}
