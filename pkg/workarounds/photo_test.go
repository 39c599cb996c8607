package workarounds

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/internal/pipenet"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/link"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// TestPhoto plays each trick with a 200KB photo on a 1Mbit link, on the
// fake clock. The photo is one more post, and the interruption, wanted
// with it, waits behind it: the grandchild posts one line at a time, so it
// goes once the photo's post has been answered. Polling's polls queue
// behind the photo on its one connection too, and grandma's lines with
// them; the event stream goes on telling the story while the photo crosses
// the other way.
func TestPhoto(t *testing.T) {
	const latency, rate, size = 40 * time.Millisecond, 1 * link.Mbit, 200_000
	script := calltest.Script(t, story.Options{Photo: size})
	for _, c := range []struct {
		mode  call.Mode
		conns int
	}{{Poll(), 1}, {LongPoll(), 2}, {SSE(), 2}} {
		synctest.Test(t, func(t *testing.T) {
			l := pipenet.Listen()
			res, err := call.Run(context.Background(), c.mode, call.Config{Script: script, Latency: latency, Bandwidth: rate, Listener: l, Dial: l.DialContext})
			if err != nil {
				t.Fatal(err)
			}
			key := c.mode.Key
			checkPhoto(t, res, size, rate.TimeFor(size)-rate.TimeFor(size)/10)
			tl := res.Timeline
			photo := calltest.Said(t, tl, story.LabelPhoto)
			in := calltest.Said(t, tl, story.LabelInterruption)
			if in.WantedAt != script.InterruptAt || in.Reason != timeline.ReasonChannelBusy {
				t.Errorf("%s: the interruption was wanted at %v, waiting because %q; want at %v, because %q", key, in.WantedAt, in.Reason, script.InterruptAt, timeline.ReasonChannelBusy)
			}
			if res.Connections != c.conns {
				t.Errorf("%s: %d connections, want %d", key, res.Connections, c.conns)
			}
			// The photo's answer is back a latency after grandma heard it.
			if back := photo.HeardAt + latency; in.SentAt < back {
				t.Errorf("%s: the interruption was sent at %v; want it to wait for the photo's answer, back at %v", key, in.SentAt, back)
			}
			switch key {
			case "poll":
				// The polls wait behind the photo too: whatever grandma
				// wanted to say while it crossed waits until it is heard.
				for _, m := range tl.Messages {
					if m.From == timeline.Server && m.WantedAt >= photo.SentAt && m.WantedAt < photo.HeardAt && m.SentAt < photo.HeardAt {
						t.Errorf("%s: grandma's %s, wanted at %v while the photo crossed, was sent at %v, before it was heard at %v: no poll can pass it", key, m.Label, m.WantedAt, m.SentAt, photo.HeardAt)
					}
				}
			case "sse":
				// The stream goes on down while the photo goes up.
				told := 0
				for _, m := range tl.Messages {
					if m.From == timeline.Server && m.SentAt > photo.SentAt && m.HeardAt < photo.HeardAt && m.Waited() < timeline.Resolution {
						told++
					}
				}
				if told == 0 {
					t.Errorf("%s: grandma said nothing at once while the photo crossed, from %v to %v", key, photo.SentAt, photo.HeardAt)
				}
			}
		})
	}
}

// TestPhotoRealTCP plays each trick with a photo on loopback, with
// orderings and bounds only.
func TestPhotoRealTCP(t *testing.T) {
	const latency, rate, size = 20 * time.Millisecond, 2 * link.Mbit, 100_000 // 0.4 s on the link
	script := calltest.Script(t, story.Options{Photo: size, Speed: 2})
	for _, c := range []struct {
		mode  call.Mode
		conns int
	}{{Poll(), 1}, {LongPoll(), 2}, {SSE(), 2}} {
		res, err := call.Run(context.Background(), c.mode, call.Config{Script: script, Latency: latency, Bandwidth: rate})
		if err != nil {
			t.Fatalf("%s: %v", c.mode.Key, err)
		}
		checkPhoto(t, res, size, rate.TimeFor(size)/2)
		if res.Connections != c.conns {
			t.Errorf("%s: %d connections, want %d", c.mode.Key, res.Connections, c.conns)
		}
	}
}

// checkPhoto: every line was said and heard once, each side's in the order
// it was said; the photo as in every mode (calltest.Photo); and the
// interruption heard after the photo, no sooner than behind after it was
// wanted (calltest.HeldUpByPhoto).
func checkPhoto(t *testing.T, res *result.Result, size int, behind time.Duration) {
	t.Helper()
	key, tl := res.Mode.Key, res.Timeline
	seen := map[string]int{}
	var lastHeard [2]time.Duration
	for _, m := range tl.Messages {
		if !m.Sent || !m.Heard {
			t.Fatalf("%s: the %s's %s was not both sent and heard: %+v", key, m.From, m.Label, m)
		}
		if m.HeardAt < lastHeard[m.From] {
			t.Errorf("%s: the %s's %s was heard at %v, before a line said before it", key, m.From, m.Label, m.HeardAt)
		}
		lastHeard[m.From] = m.HeardAt
		seen[m.Label]++
	}
	for _, label := range []string{story.LabelQuestion, story.LabelPhoto, story.LabelInterruption, story.LabelAnswer, story.LabelAfterthought, story.LabelGoodbye, story.LabelFarewell} {
		if seen[label] != 1 {
			t.Errorf("%s: the %s was said %d times, want once", key, label, seen[label])
		}
	}
	calltest.Photo(t, res, size)
	calltest.HeldUpByPhoto(t, res, behind)
}

// TestPhotoLimit: with a photo in the script grandma reads a post as long
// as it, and answers it with nothing (204); a byte more is refused, saying
// the limit.
func TestPhotoLimit(t *testing.T) {
	script := calltest.Script(t, story.Options{Photo: 20_000})
	rec := timeline.NewRecorder(nil)
	defer rec.Finish()
	g := newGrandma(script, rec)
	rec.Sent(rec.Want(timeline.Client, story.LabelPhoto, script.Photo, timeline.ReasonChannelBusy))
	w := httptest.NewRecorder()
	g.ServeHTTP(w, httptest.NewRequest(http.MethodPost, SayPath, strings.NewReader(script.Photo)))
	if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
		t.Errorf("the photo: got %d with %q, want %d and nothing", w.Code, w.Body, http.StatusNoContent)
	}
	w = httptest.NewRecorder()
	g.ServeHTTP(w, httptest.NewRequest(http.MethodPost, SayPath, strings.NewReader(script.Photo+"x")))
	if limit := strconv.Itoa(len(script.Photo)); w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), limit) {
		t.Errorf("a byte more than the photo: got %d %q, want %d saying %s bytes", w.Code, w.Body, http.StatusRequestEntityTooLarge, limit)
	}
	w = httptest.NewRecorder()
	g.ServeHTTP(w, httptest.NewRequest(http.MethodPost, SayPath, strings.NewReader(strings.Repeat("x", call.MaxLine+1))))
	if w.Code != http.StatusBadRequest {
		t.Errorf("a long line that was never said: got %d, want %d", w.Code, http.StatusBadRequest)
	}
	// Without a photo, the limit stays call.MaxLine.
	g = newGrandma(story.Default(), rec)
	w = httptest.NewRecorder()
	g.ServeHTTP(w, httptest.NewRequest(http.MethodPost, SayPath, strings.NewReader(strings.Repeat("x", call.MaxLine+1))))
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("a line over %d bytes without a photo: got %d, want %d", call.MaxLine, w.Code, http.StatusRequestEntityTooLarge)
	}
}

// TestPhotoCancelled stops each trick while the photo is crossing: the
// call returns the context's error within a second, and leaves nothing
// running (goleak).
func TestPhotoCancelled(t *testing.T) {
	script := calltest.Script(t, story.Options{Photo: 200_000}) // 1.6 s at 1Mbit, from 0.6 s
	for _, m := range []call.Mode{Poll(), LongPoll(), SSE()} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		start := time.Now()
		_, err := call.Run(ctx, m, call.Config{Script: script, Latency: 40 * time.Millisecond, Bandwidth: link.Mbit})
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: got %v, want the context's error", m.Key, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: Run took %v to stop after its context ended at 1s; want under a second more", m.Key, d)
		}
	}
}
