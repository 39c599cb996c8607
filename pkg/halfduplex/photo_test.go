package halfduplex

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

// TestPhoto plays the walkie with a 200KB photo on a 1Mbit link, on the
// fake clock. The photo is one more request: it waits for the channel
// behind the story's answer, and the interruption, wanted with it, waits
// for the channel behind the photo's request, all 1.6 s of it on the link,
// and its answer. Grandma looks at the photo and answers it with what she
// was waiting to say: her afterthought, wanted while the photo crossed.
func TestPhoto(t *testing.T) {
	const latency, rate, size = 40 * time.Millisecond, 1 * link.Mbit, 200_000
	script := calltest.Script(t, story.Options{Photo: size})
	synctest.Test(t, func(t *testing.T) {
		l := pipenet.Listen()
		res, err := call.Run(context.Background(), Mode(), call.Config{Script: script, Latency: latency, Bandwidth: rate, Listener: l, Dial: l.DialContext})
		if err != nil {
			t.Fatal(err)
		}
		checkPhoto(t, res, size, rate.TimeFor(size)-rate.TimeFor(size)/10)
		tl := res.Timeline
		last := calltest.Last(tl, story.LabelStory)
		photo := calltest.Said(t, tl, story.LabelPhoto)
		in := calltest.Said(t, tl, story.LabelInterruption)
		// The photo takes the channel when the story's answer has come
		// (its last sentence, and the end of the chunked answer, a few
		// bytes); the interruption when the photo's answer has (its
		// headers and the afterthought: under a kilobyte).
		answer := rate.TimeFor(1000)
		if photo.SentAt < last.HeardAt || photo.SentAt > last.HeardAt+answer || photo.Reason != timeline.ReasonChannelBusy {
			t.Errorf("the photo was sent at %v (waiting because %q); want when the story's last sentence was heard, %v, because %q",
				photo.SentAt, photo.Reason, last.HeardAt, timeline.ReasonChannelBusy)
		}
		if back := photo.HeardAt + latency; in.WantedAt != script.InterruptAt || in.SentAt < back || in.SentAt > back+answer || in.Reason != timeline.ReasonChannelBusy {
			t.Errorf("the interruption was wanted at %v and sent at %v (waiting because %q); want at %v, and when the photo's answer came back, a latency after %v, because %q",
				in.WantedAt, in.SentAt, in.Reason, script.InterruptAt, photo.HeardAt, timeline.ReasonChannelBusy)
		}
		a := calltest.Said(t, tl, story.LabelAfterthought)
		if a.WantedAt >= photo.HeardAt || a.SentAt != photo.HeardAt {
			t.Errorf("the afterthought was wanted at %v and sent at %v; want it on the answer to the photo, heard at %v", a.WantedAt, a.SentAt, photo.HeardAt)
		}
		if res.Connections != 1 || calltest.Fact(t, res, "requests") != 4 {
			t.Errorf("%d connections, %v requests; want 1 and 4: each of the grandchild's lines, the photo too", res.Connections, calltest.Fact(t, res, "requests"))
		}
	})
}

// TestPhotoRealTCP plays the walkie with a photo on loopback, with
// orderings and bounds only.
func TestPhotoRealTCP(t *testing.T) {
	const latency, rate, size = 20 * time.Millisecond, 2 * link.Mbit, 100_000 // 0.4 s on the link
	script := calltest.Script(t, story.Options{Photo: size, Speed: 2})
	res, err := call.Run(context.Background(), Mode(), call.Config{Script: script, Latency: latency, Bandwidth: rate})
	if err != nil {
		t.Fatal(err)
	}
	checkPhoto(t, res, size, rate.TimeFor(size)/2)
	if res.Connections != 1 {
		t.Errorf("connections: got %d, want 1", res.Connections)
	}
}

// checkPhoto: every line was said and heard once, each side's in the order
// it was said; the photo as in every mode (calltest.Photo); and the
// interruption heard after the photo, no sooner than behind after it was
// wanted (calltest.HeldUpByPhoto).
func checkPhoto(t *testing.T, res *result.Result, size int, behind time.Duration) {
	t.Helper()
	tl := res.Timeline
	seen := map[string]int{}
	var lastHeard [2]time.Duration
	for _, m := range tl.Messages {
		if !m.Sent || !m.Heard {
			t.Fatalf("the %s's %s was not both sent and heard: %+v", m.From, m.Label, m)
		}
		if m.HeardAt < lastHeard[m.From] {
			t.Errorf("the %s's %s was heard at %v, before a line said before it", m.From, m.Label, m.HeardAt)
		}
		lastHeard[m.From] = m.HeardAt
		seen[m.Label]++
	}
	for _, label := range []string{story.LabelQuestion, story.LabelPhoto, story.LabelInterruption, story.LabelAnswer, story.LabelAfterthought, story.LabelGoodbye, story.LabelFarewell} {
		if seen[label] != 1 {
			t.Errorf("the %s was said %d times, want once", label, seen[label])
		}
	}
	calltest.Photo(t, res, size)
	calltest.HeldUpByPhoto(t, res, behind)
}

// TestPhotoLimit: with a photo in the script grandma reads a line as long
// as it, and answers it with nothing (204) when she has nothing to say; a
// byte more is refused, saying the limit.
func TestPhotoLimit(t *testing.T) {
	script := calltest.Script(t, story.Options{Photo: 20_000})
	rec := timeline.NewRecorder(nil)
	defer rec.Finish()
	g := newGrandma(script, rec)
	rec.Sent(rec.Want(timeline.Client, story.LabelPhoto, script.Photo, timeline.ReasonChannelBusy))
	w := httptest.NewRecorder()
	g.ServeHTTP(w, httptest.NewRequest(http.MethodPost, Path, strings.NewReader(script.Photo)))
	if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
		t.Errorf("the photo: got %d with %q, want %d and nothing", w.Code, w.Body, http.StatusNoContent)
	}
	w = httptest.NewRecorder()
	g.ServeHTTP(w, httptest.NewRequest(http.MethodPost, Path, strings.NewReader(script.Photo+"x")))
	if limit := strconv.Itoa(len(script.Photo)); w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), limit) {
		t.Errorf("a byte more than the photo: got %d %q, want %d saying %s bytes", w.Code, w.Body, http.StatusRequestEntityTooLarge, limit)
	}
}

// TestPhotoCancelled stops a call while the photo is crossing: it returns
// the context's error within a second, and leaves nothing running
// (goleak).
func TestPhotoCancelled(t *testing.T) {
	script := calltest.Script(t, story.Options{Photo: 200_000}) // 1.6 s at 1Mbit, from 1.4 s
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := call.Run(ctx, Mode(), call.Config{Script: script, Latency: 40 * time.Millisecond, Bandwidth: link.Mbit})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want the context's error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Run took %v to stop after its context ended at 2s; want under a second more", d)
	}
}
