// Package calltest holds what the tests of both transports share: a script
// from options, the messages a check looks at, a call over the in-memory
// network, and a call stopped mid-way.
package calltest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/internal/pipenet"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// Script returns the script o describes, failing the test if it is invalid.
func Script(t testing.TB, o story.Options) story.Script {
	t.Helper()
	s, err := story.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Said returns the first message with label, failing the test unless it
// was both sent and heard.
func Said(t testing.TB, tl *timeline.Timeline, label string) timeline.Message {
	t.Helper()
	m, ok := tl.Message(label)
	if !ok || !m.Sent || !m.Heard {
		t.Fatalf("the %s was not both sent and heard: %+v", label, m)
	}
	return m
}

// Last returns the last sent message with label.
func Last(tl *timeline.Timeline, label string) timeline.Message {
	var last timeline.Message
	for _, m := range tl.Messages {
		if m.Label == label && m.Sent {
			last = m
		}
	}
	return last
}

// InMemory plays a call over the in-memory network. Inside a
// testing/synctest bubble its times are exact.
func InMemory(t testing.TB, m call.Mode, s story.Script, latency time.Duration) *result.Result {
	t.Helper()
	l := pipenet.Listen()
	res, err := call.Run(context.Background(), m, call.Config{Script: s, Latency: latency, Listener: l, Dial: l.DialContext})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Cancelled stops calls 300ms in, mid-story on a fast link and with bytes
// still in flight (or the line still opening) on a slow one, and checks
// that run returns the context's error within a second. Run it under
// goleak to check that nothing is left running.
func Cancelled(t testing.TB, m call.Mode) {
	t.Helper()
	for _, latency := range []time.Duration{40 * time.Millisecond, 2 * time.Second} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		start := time.Now()
		_, err := call.Run(ctx, m, call.Config{Script: story.Default(), Latency: latency})
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("latency %v: got %v, want the context's error", latency, err)
		}
		if d := time.Since(start); d > 300*time.Millisecond+time.Second {
			t.Errorf("latency %v: Run took %v to stop after its context ended; want under a second", latency, d)
		}
	}
}

// Fact returns the value of the result's fact with key, failing the test
// if the mode did not count it.
func Fact(t testing.TB, res *result.Result, key string) float64 {
	t.Helper()
	for _, f := range res.Facts {
		if f.Key == key {
			return f.Value
		}
	}
	t.Fatalf("the %s call has no fact %q: %+v", res.Mode.Key, key, res.Facts)
	return 0
}
