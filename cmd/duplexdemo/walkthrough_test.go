package main

import (
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
	for _, m := range regexp.MustCompile(`Chapter (\d) of 8`).FindAllStringSubmatch(out, -1) {
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

// TestWalkthroughKeys drives the lesson through its input: Enter goes on,
// b goes back and runs the chapter again, r runs it again, q quits.
func TestWalkthroughKeys(t *testing.T) {
	out, err := walkthrough(t, "\nb\nr\nq\n", true)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(chaptersShown(out), " "), "1 2 1 1"; got != want {
		t.Errorf("chapters shown: %s, want %s (Enter, b, r, q)", got, want)
	}
	if strings.Contains(out, "That is the lesson") {
		t.Error("q did not stop the lesson")
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
	} {
		out, err := walkthrough(t, "", c.inTerminal, c.args...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := strings.Join(chaptersShown(out), " "); got != "1 2 3 4 5 6 7 8" || !strings.Contains(out, "That is the lesson") {
			t.Errorf("%s: chapters %q, want all eight and the end", c.name, got)
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
	if got := strings.Join(chaptersShown(out), " "); got != "6 7 8" {
		t.Errorf("--chapter 6 showed %q, want 6 7 8", got)
	}
	out, err = walkthrough(t, "", false, "--list")
	if err != nil || strings.Count(out, "\n") != 8 || !strings.HasPrefix(out, "1. Taking turns") {
		t.Errorf("--list: %v\n%s", err, out)
	}
	if _, err := walkthrough(t, "", false, "--chapter", "9"); err == nil || !strings.Contains(err.Error(), "--chapter") {
		t.Errorf("--chapter 9: got %v, want a usage error naming the flag", err)
	}
}

// TestWalkthroughUnknownKeyAsksAgain: a key it does not know neither runs
// the chapter again nor moves on.
func TestWalkthroughUnknownKeyAsksAgain(t *testing.T) {
	out, err := walkthrough(t, "x\n\nq\n", true)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(chaptersShown(out), " "); got != "1 2" || !strings.Contains(out, "Enter, b, r or q: ") {
		t.Errorf("chapters shown %q after x, Enter, q; want 1 2 and a reminder of the keys", got)
	}
}

// TestWalkthroughStopsWhileWaitingForAKey: Ctrl-C (the context ending)
// stops the lesson at once, even while it waits for Enter.
func TestWalkthroughStopsWhileWaitingForAKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		in, typing := io.Pipe()
		defer typing.Close()
		deps, _, _ := testDeps(false, nil)
		deps.Network, deps.In, deps.InIsTerminal = inMemory, in, true
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			root := newCmdRoot(deps)
			root.SetArgs([]string{"walkthrough"})
			done <- root.ExecuteContext(ctx)
		}()
		time.Sleep(time.Minute) // well past chapter 1: it waits for a key
		synctest.Wait()
		start := time.Now()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want the context's error", err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("took %v to stop", d)
		}
	})
}
