package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/duplexdemo/duplexdemo/pkg/lesson"
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
Keys, on a terminal: Enter for the next chapter, b to go back (the demo runs
again), r to run this chapter again, q to quit. With --no-pause, or when
input is not a terminal, it runs straight through.`,
		Example: `  duplexdemo walkthrough
  duplexdemo walkthrough --latency 150ms --pace 500ms
  duplexdemo walkthrough --chapter 4
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
	boolFlag(cmd.Flags(), &w.NoPause, "no-pause", "run every chapter without waiting for a key")
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
	boolFlag(cmd.Flags(), &w.List, "list", "list the chapters and stop")
	return cmd
}

// runWalkthrough plays the chapters from w.Chapter on, waiting for a key
// between them when input is a terminal and --no-pause is not given.
func runWalkthrough(ctx context.Context, deps *env, opts *callOptions, w *walkthroughOptions, chapters []lesson.Chapter) error {
	script, err := story.New(opts.Story)
	if err != nil {
		return asUsage(err)
	}
	warnShortStory(deps, script, opts.Latency)
	style := opts.style(deps)
	warnNarrow(deps, opts, style)
	l := &lesson.Teacher{Out: deps.Out, Style: style, Script: script, Latency: opts.Latency, Network: deps.Network}
	pause := !w.NoPause && deps.InIsTerminal
	var keys <-chan string
	if pause {
		done := make(chan struct{})
		defer close(done)
		keys = readLines(deps.In, done)
	}
	for n := w.Chapter; n <= len(chapters); {
		if pause && deps.IsTerminal {
			fmt.Fprint(deps.Out, "\x1b[H\x1b[2J") // a fresh screen for each chapter
		}
		if err := l.Play(ctx, chapters, n); err != nil {
			return asUsage(err)
		}
		if !pause {
			n++
			continue
		}
		next := "Enter: next chapter"
		if n == len(chapters) {
			next = "Enter: finish"
		}
		fmt.Fprintf(deps.Out, "\n[%s   b: back   r: run again   q: quit] ", next)
	ask:
		for {
			var key string
			var ok bool
			select {
			case key, ok = <-keys:
			case <-ctx.Done():
				fmt.Fprintln(deps.Out)
				return ctx.Err()
			}
			if !ok {
				fmt.Fprintln(deps.Out)
				return nil // end of input: stop here
			}
			switch strings.ToLower(strings.TrimSpace(key)) {
			case "":
				n++
			case "b":
				n = max(n-1, 1)
			case "r":
			case "q":
				return nil
			default:
				fmt.Fprint(deps.Out, "Enter, b, r or q: ")
				continue ask
			}
			break
		}
	}
	_, err = fmt.Fprintln(deps.Out, "\n"+lesson.Wrap("That is the lesson. Run `duplexdemo compare` to see both again (`--all` adds the tricks before WebSocket), or each alone with `duplexdemo walkie` and `duplexdemo phone`. To hand it out: `duplexdemo compare --html lesson.html`, a page to print. The examples collab-editing, auction and chat measure the scenarios above; from a clone of the repository: `go run ./examples/auction`.", style.Width))
	return err
}

// readLines reads lines from r on a goroutine of its own, so that waiting
// for a key never keeps Ctrl-C from stopping the lesson. The channel closes
// at the end of input. The goroutine ends at the end of input or, once done
// is closed, with the next line; one blocked on a terminal ends with the
// process.
func readLines(r io.Reader, done <-chan struct{}) <-chan string {
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-done:
				return
			}
		}
	}()
	return lines
}
