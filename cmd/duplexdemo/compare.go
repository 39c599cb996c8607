package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/compare"
	"github.com/duplexdemo/duplexdemo/pkg/render"
	"github.com/duplexdemo/duplexdemo/pkg/report"
	"github.com/duplexdemo/duplexdemo/pkg/story"
)

// NewCmdCompare builds the compare command: both modes, one table.
func NewCmdCompare(deps *Deps) *cobra.Command {
	opts := &CallOptions{}
	cmd := &cobra.Command{
		Use:   "compare",
		Short: "Play the call as walkie and as phone, and set them side by side",
		Long: `compare plays the same call both ways at once, with the same script on the
same emulated link, each on its own connection: over HTTP/1.1 (walkie) and
over a WebSocket (phone). It prints one table, a row per measure and a
column per mode, and both calls' swimlanes on one time axis.`,
		Example: `  duplexdemo compare
  duplexdemo compare --latency 150ms --pace 500ms
  duplexdemo compare --json
  duplexdemo compare --html lesson.html --mermaid lesson.md --trace-out lesson.json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCompare(cmd.Context(), deps, opts)
		},
	}
	addCallFlags(cmd.Flags(), opts)
	addExportFlags(cmd.Flags(), &opts.Export)
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
