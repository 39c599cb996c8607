// Package calltest holds what the tests of both transports share: a script
// from options, the messages a check looks at, a call over the in-memory
// network, a call stopped mid-way, and the checks of a call with a photo.
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

// Photo checks a call with a photo of size bytes, in every mode: the photo
// was said once, and both sent and heard; it is on the timeline under its
// short text (story.PhotoText) with its real size, and every event of it
// counts size bytes; no event carries more than 100 bytes of text; the
// interruption was sent, no sooner than the photo; and more bytes went up
// than the photo. It returns the photo. Every message names the mode.
func Photo(t testing.TB, res *result.Result, size int) timeline.Message {
	t.Helper()
	key, tl := res.Mode.Key, res.Timeline
	var photos []timeline.Message
	for _, m := range tl.Messages {
		if m.Label == story.LabelPhoto {
			photos = append(photos, m)
		}
	}
	if len(photos) != 1 || !photos[0].Sent || !photos[0].Heard {
		t.Fatalf("%s: the photo was said %d times: %+v; want once, both sent and heard", key, len(photos), photos)
	}
	p := photos[0]
	if p.Text != story.PhotoText(size) || p.Bytes() != size {
		t.Errorf("%s: the photo is on the timeline as %q, %d bytes; want %q, %d", key, p.Text, p.Bytes(), story.PhotoText(size), size)
	}
	for _, e := range tl.Events {
		if len(e.Text) > 100 {
			t.Errorf("%s: a %s event of the %s carries %d bytes of text", key, e.Kind, e.Label, len(e.Text))
		}
		if e.Label == story.LabelPhoto && e.Bytes != size {
			t.Errorf("%s: a %s event of the photo counts %d bytes, want %d", key, e.Kind, e.Bytes, size)
		}
	}
	if in, ok := tl.Message(story.LabelInterruption); !ok || !in.Sent || in.SentAt < p.SentAt {
		t.Errorf("%s: the interruption was sent at %v (sent: %v), the photo at %v; want it sent, no sooner than the photo", key, in.SentAt, in.Sent, p.SentAt)
	}
	if up := res.WireBytes[timeline.Client]; up <= int64(size) {
		t.Errorf("%s: %d bytes up, for a photo of %d", key, up, size)
	}
	return p
}

// HeldUpByPhoto checks that a call's interruption crossed behind its photo:
// it was heard no sooner than the photo, and at least behind after it was
// wanted. Every message names the mode.
func HeldUpByPhoto(t testing.TB, res *result.Result, behind time.Duration) {
	t.Helper()
	key, tl := res.Mode.Key, res.Timeline
	p, _ := tl.Message(story.LabelPhoto)
	in, _ := tl.Message(story.LabelInterruption)
	if !in.Heard || !p.Heard || in.HeardAt < p.HeardAt {
		t.Errorf("%s: the interruption was heard at %v (heard: %v), the photo at %v (heard: %v); want the photo first", key, in.HeardAt, in.Heard, p.HeardAt, p.Heard)
	}
	if in.HeardAfter() < behind {
		t.Errorf("%s: the interruption was heard %v after it was wanted; behind a %s photo, want at least %v", key, in.HeardAfter(), story.PhotoSize(p.Bytes()), behind)
	}
}
