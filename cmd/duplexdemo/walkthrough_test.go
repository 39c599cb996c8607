package main

import (
	"github.com/duplexdemo/duplexdemo/internal/syncbuf"

	"context"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// chaptersShown lists the chapter numbers in the order the output shows them.
func chaptersShown(out string) []string {
	var got []string
	for _, m := range regexp.MustCompile(`Chapter (\d+) of 10`).FindAllStringSubmatch(out, -1) {
		got = append(got, m[1])
	}
	return got
}

// walkthrough runs the walkthrough inside a synctest bubble over the
// in-memory network, with input and a terminal or not on stdin.
func walkthrough(t *testing.T, input string, inTerminal bool, args ...string) (string, error) {
	t.Helper()
	var out string
	var err error
	synctest.Test(t, func(t *testing.T) {
		deps, o, _ := testDeps(false, nil)
		deps.Network = inMemory
		deps.In = strings.NewReader(input)
		deps.InIsTerminal = inTerminal
		err = execute(deps, append([]string{"walkthrough"}, args...)...)
		out = o.String()
	})
	return out, err
}

// fullScreen runs the walkthrough as on a terminal (input and output
// both terminals), on real time over the in-memory network, with keys
// written to its input by type, and returns its output and error.
func fullScreen(t *testing.T, ctx context.Context, typ func(w io.Writer), args ...string) (string, error) {
	t.Helper()
	in, typing := io.Pipe()
	deps, _, _ := testDeps(true, nil)
	out := &syncbuf.Buffer{}
	deps.Network, deps.In, deps.InIsTerminal, deps.Out = inMemory, in, true, out
	done := make(chan error, 1)
	go func() {
		root := newCmdRoot(deps)
		root.SetArgs(append([]string{"walkthrough"}, args...))
		done <- root.ExecuteContext(ctx)
	}()
	go func() { typ(typing); typing.Close() }()
	err := <-done
	return out.String(), err
}

// TestWalkthroughFullScreen: with a terminal on both ends the lesson takes
// the alternate screen, answers single keys, and gives the screen back
// when q is pressed, printing nothing after.
func TestWalkthroughFullScreen(t *testing.T) {
	out, err := fullScreen(t, context.Background(), func(w io.Writer) {
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "q")
	})
	if err != nil {
		t.Fatal(err)
	}
	enter, leave := strings.Index(out, "\x1b[?1049h"), strings.LastIndex(out, "\x1b[?1049l")
	if enter < 0 || leave < enter {
		t.Errorf("the alternate screen was not taken and given back (enter at %d, leave at %d)", enter, leave)
	}
	if !strings.Contains(out, "Chapter 1 of 10") {
		t.Errorf("chapter 1 was not drawn")
	}
	if strings.Contains(out, "That is the lesson") {
		t.Error("q printed the lesson's last words; it should just stop")
	}
}

// TestWalkthroughStopsOnTheContext: a signal (the context ending) stops
// the full-screen lesson at once, even mid-demo, with the context's error.
func TestWalkthroughStopsOnTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var stopped time.Time
	_, err := fullScreen(t, ctx, func(io.Writer) {
		time.Sleep(300 * time.Millisecond)
		stopped = time.Now()
		cancel()
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want the context's error", err)
	}
	if d := time.Since(stopped); d > 5*time.Second {
		t.Errorf("took %v to stop", d)
	}
}

// TestWalkthroughPredictNeedsTheScreen: --predict waits for a guess, which
// plain text straight through cannot do.
func TestWalkthroughPredictNeedsTheScreen(t *testing.T) {
	_, err := walkthrough(t, "", true, "--predict", "--no-pause")
	var ue *usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--predict") {
		t.Errorf("--predict --no-pause: got %v, want a usage error naming --predict", err)
	}
}

// TestWalkthroughRunsThrough: with --no-pause, and with input that is not
// a terminal, every chapter plays without waiting for a key.
func TestWalkthroughRunsThrough(t *testing.T) {
	for _, c := range []struct {
		name       string
		inTerminal bool
		args       []string
	}{
		{"--no-pause", true, []string{"--no-pause"}},
		{"piped stdin", false, nil},
		{"piped stdout", true, nil}, // testDeps' output is no terminal
	} {
		out, err := walkthrough(t, "", c.inTerminal, c.args...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := strings.Join(chaptersShown(out), " "); got != "1 2 3 4 5 6 7 8 9 10" || !strings.Contains(out, "That is the lesson") {
			t.Errorf("%s: chapters %q, want all ten and the end", c.name, got)
		}
		if strings.Contains(out, "b: back") {
			t.Errorf("%s: it asked for a key", c.name)
		}
	}
}

func TestWalkthroughChapterAndList(t *testing.T) {
	out, err := walkthrough(t, "", false, "--chapter", "6")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(chaptersShown(out), " "); got != "6 7 8 9 10" {
		t.Errorf("--chapter 6 showed %q, want 6 7 8 9 10", got)
	}
	out, err = walkthrough(t, "", false, "--list")
	if err != nil || strings.Count(out, "\n") != 10 || !strings.HasPrefix(out, "1. Taking turns") {
		t.Errorf("--list: %v\n%s", err, out)
	}
	if _, err := walkthrough(t, "", false, "--chapter", "11"); err == nil || !strings.Contains(err.Error(), "--chapter") {
		t.Errorf("--chapter 11: got %v, want a usage error naming the flag", err)
	}
}
