package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/duplexdemo/duplexdemo/pkg/lesson"
	"github.com/duplexdemo/duplexdemo/pkg/lesson/screen"
	"github.com/duplexdemo/duplexdemo/pkg/modes"
	"github.com/duplexdemo/duplexdemo/pkg/story"
)

// walkthroughOptions are the walkthrough's own flags.
type walkthroughOptions struct {
	// NoPause runs every chapter without waiting for a key (--no-pause).
	NoPause bool
	// Chapter is the chapter to start at, from 1 (--chapter).
	Chapter int
	// List prints the chapters and stops (--list).
	List bool
	// Predict asks for the class's guess before the demos that measure a
	// number their chapter asks about (--predict).
	Predict bool
}

// chapterList numbers the chapters' titles, one a line.
func chapterList(chapters []lesson.Chapter) string {
	var b strings.Builder
	for i, c := range chapters {
		fmt.Fprintf(&b, "  %d. %s\n", i+1, c.Title)
	}
	return b.String()
}

// newCmdWalkthrough builds the walkthrough command: the classroom lesson.
func newCmdWalkthrough(deps *env) *cobra.Command {
	opts := &callOptions{}
	w := &walkthroughOptions{Chapter: 1}
	chapters := lesson.Chapters()
	cmd := &cobra.Command{
		Use:   "walkthrough",
		Short: "The classroom lesson: half duplex and full duplex, chapter by chapter, run live",
		Long: `walkthrough is a narrated lesson for a class. Each chapter explains one idea
in plain words, runs a real call right there, and points at what just
happened in the numbers that call measured:

` + chapterList(chapters) + `
On a terminal it fills the screen, one chapter at a time, laid out to fit
(80x24 at least): the words at the top, the call growing as swimlanes in the
middle, what it measured at the bottom. Keys: right arrow, space or Enter
for the next chapter; left arrow or b to go back (the demo runs again); r to
run it again; l for the chapter's full log; ? for the keys; q to quit. Keys
pressed while a call runs are dropped. With --predict, chapters 2 and 4 ask
for the class's guess first and show it beside the measured number.

With --no-pause, or when input or output is not a terminal, it prints
plain text straight through and waits for nothing.`,
		Example: `  duplexdemo walkthrough
  duplexdemo walkthrough --latency 150ms --pace 500ms
  duplexdemo walkthrough --chapter 4 --predict
  duplexdemo walkthrough --no-pause --ascii --color never`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if w.List {
				for i, c := range chapters {
					fmt.Fprintf(deps.Out, "%d. %s\n", i+1, c.Title)
				}
				return nil
			}
			if opts.JSON {
				return &usageError{fmt.Errorf("--json: the walkthrough is for people; for JSON use compare or one of %s", strings.Join(modes.Keys(), ", "))}
			}
			for _, f := range []struct{ name, value string }{{"trace-out", opts.Export.TraceOut}, {"mermaid", opts.Export.Mermaid}, {"html", opts.Export.HTML}} {
				if f.value != "" {
					return &usageError{fmt.Errorf("--%s: the walkthrough writes no files; for the same calls as pictures use duplexdemo compare --%s %s", f.name, f.name, f.value)}
				}
			}
			if w.Chapter < 1 || w.Chapter > len(chapters) {
				return &usageError{fmt.Errorf("--chapter %d: want a chapter from 1 to %d, as --list shows", w.Chapter, len(chapters))}
			}
			return runWalkthrough(cmd.Context(), deps, opts, w, chapters)
		},
	}
	addCallFlags(cmd.Flags(), opts)
	boolFlag(cmd.Flags(), &w.NoPause, "no-pause", "print every chapter as plain text, without waiting for a key")
	boolFlag(cmd.Flags(), &w.Predict, "predict", "ask for the class's guess before the demos of chapters 2 and 4 (full screen only)")
	cmd.Flags().Var(&intValue{&w.Chapter, 1, len(chapters)}, "chapter", fmt.Sprintf("start at this chapter (1 to %d)", len(chapters)))
	_ = cmd.RegisterFlagCompletionFunc("chapter", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		var out []string
		for i, c := range chapters {
			out = append(out, fmt.Sprintf("%d\t%s", i+1, c.Title))
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	})
	// --json comes with the shared flags but is refused here: keep it out of
	// the help. Its only error is for a flag that does not exist.
	// So do the picture files, which compare writes for the same calls.
	addExportFlags(cmd.Flags(), &opts.Export)
	for _, name := range []string{"json", "trace-out", "mermaid", "html"} {
		_ = cmd.Flags().MarkHidden(name)
	}
	if f := cmd.Flags().Lookup("photo"); f != nil {
		f.Usage += "; the lesson sends it in chapter 9 alone, smaller if its link cannot carry it in time (default 200KB there)"
	}
	boolFlag(cmd.Flags(), &w.List, "list", "list the chapters and stop")
	return cmd
}

// runWalkthrough plays the chapters from w.Chapter on: full screen, a key
// between chapters, on a terminal; straight through as plain text with
// --no-pause or off a terminal.
func runWalkthrough(ctx context.Context, deps *env, opts *callOptions, w *walkthroughOptions, chapters []lesson.Chapter) error {
	script, err := story.New(opts.Story)
	if err != nil {
		return asUsage(err)
	}
	fullScreen := !w.NoPause && deps.InIsTerminal && deps.IsTerminal
	if w.Predict && !fullScreen {
		return &usageError{errors.New("--predict asks for the class's guess before each demo, which needs the full-screen lesson: run it on a terminal, without --no-pause")}
	}
	warnShortStory(deps, script, opts.Latency)
	style := opts.style(deps)
	// --photo is chapter 9's alone: it shrinks one its link cannot carry.
	photo := len(script.Photo)
	script.Photo = ""
	l := &lesson.Teacher{Out: deps.Out, Style: style, Script: script, Latency: opts.Latency, Bandwidth: opts.Bandwidth, Jitter: opts.Jitter, Seed: opts.seed(), Photo: photo, Network: deps.Network}
	if fullScreen {
		finished, err := screen.Run(ctx, screen.Options{Teacher: l, Chapters: chapters, Start: w.Chapter, Predict: w.Predict,
			Width: opts.Width, In: deps.In, Out: deps.Out, Options: deps.screenOptions})
		if errors.Is(err, screen.ErrInterrupted) {
			return interrupted{syscall.SIGINT}
		}
		if err != nil || !finished {
			return asUsage(err)
		}
	} else {
		warnNarrow(deps, opts, style)
		for n := w.Chapter; n <= len(chapters); n++ {
			if _, err := l.Play(ctx, chapters, n); err != nil {
				return asUsage(err)
			}
		}
	}
	_, err = fmt.Fprintln(deps.Out, "\n"+lesson.Wrap(unbroken(closingWords, style.Width), style.Width))
	return err
}

// unbroken joins the words of each command quoted in `backquotes` with
// non-breaking spaces, so that wrapping never splits a command a reader
// will copy, unless it is too long for a line of width columns.
func unbroken(text string, width int) string {
	parts := strings.Split(text, "`")
	for i := 1; i < len(parts); i += 2 {
		if len(parts[i])+2 <= width {
			parts[i] = strings.ReplaceAll(parts[i], " ", "\u00a0")
		}
	}
	return strings.Join(parts, "`")
}

// closingWords are the lesson's last: what to run next, all of it working
// for someone who installed the binary and has no clone of the repository.
const closingWords = "That is the lesson. Run `duplexdemo compare` to see both again (`--all` adds every other way, from polling to raw TCP), or each alone with `duplexdemo walkie` and `duplexdemo phone`. To hand it out: `duplexdemo compare --html lesson.html`, a page to print. The examples collab-editing, auction and chat measure the scenarios above; run one with Go, anywhere: `go run github.com/duplexdemo/duplexdemo/examples/auction@latest` (from a clone: `go run ./examples/auction`)."
