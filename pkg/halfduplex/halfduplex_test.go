package halfduplex

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRealTCP plays the call on loopback and checks what half duplex
// means, with orderings and bounds only, so that it holds on a slow,
// busy machine.
func TestRealTCP(t *testing.T) {
	const latency = 20 * time.Millisecond
	res, err := call.Run(context.Background(), Mode(), call.Config{Script: calltest.Script(t, story.Options{Speed: 2}), Latency: latency})
	if err != nil {
		t.Fatal(err)
	}
	tl := res.Timeline
	lastSentence := calltest.Last(tl, story.LabelStory)
	interruption := calltest.Said(t, tl, story.LabelInterruption)
	if interruption.HeardAt <= lastSentence.SentAt {
		t.Errorf("grandma heard the interruption at %v, before the last sentence was sent at %v", interruption.HeardAt, lastSentence.SentAt)
	}
	if interruption.SentAt < lastSentence.HeardAt {
		t.Errorf("the interruption was sent at %v, while the story was still arriving (last sentence heard at %v)", interruption.SentAt, lastSentence.HeardAt)
	}
	if interruption.Waited() < latency {
		t.Errorf("the interruption waited %v; with the story in flight it must wait", interruption.Waited())
	}
	if got := tl.Overlap(); got != 0 {
		t.Errorf("overlap: got %v, want 0 on a half-duplex channel", got)
	}
	goodbye := calltest.Said(t, tl, story.LabelGoodbye)
	afterthought := calltest.Said(t, tl, story.LabelAfterthought)
	if afterthought.SentAt < goodbye.HeardAt || afterthought.HeardAt <= goodbye.SentAt {
		t.Errorf("the afterthought was sent at %v and heard at %v; it may ride only on the answer to the goodbye (sent %v, heard %v)",
			afterthought.SentAt, afterthought.HeardAt, goodbye.SentAt, goodbye.HeardAt)
	}
	if afterthought.Reason != ReasonNoRequest {
		t.Errorf("the afterthought waited because %q, want %q", afterthought.Reason, ReasonNoRequest)
	}
	if res.Connections != 1 {
		t.Errorf("connections: got %d, want 1", res.Connections)
	}
	payload := res.PayloadBytes()
	for side, wire := range res.WireBytes {
		if wire <= payload[side] {
			t.Errorf("%s sent %d bytes on the wire for %d bytes of text; HTTP adds headers", timeline.Side(side), wire, payload[side])
		}
	}
}

// TestExactTimes plays the default call on the fake clock over an
// in-memory network, where the waits come out exactly as the mechanism
// dictates.
func TestExactTimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res := calltest.InMemory(t, Mode(), story.Default(), 40*time.Millisecond)
		tl := res.Timeline
		// The question waits for the TCP handshake, a round trip, and
		// reaches grandma at 120ms. The last sentence is sent at
		// 120ms + 5×250ms and heard 40ms later; only then does the
		// transport free the one connection.
		q := calltest.Said(t, tl, story.LabelQuestion)
		if q.Waited() != 80*time.Millisecond || q.Reason != timeline.ReasonConnecting || q.HeardAt != 120*time.Millisecond {
			t.Errorf("question waited %v (%s), heard at %v; want 80ms, connecting, 120ms", q.Waited(), q.Reason, q.HeardAt)
		}
		i := calltest.Said(t, tl, story.LabelInterruption)
		if i.WantedAt != 600*time.Millisecond || i.SentAt != 1410*time.Millisecond || i.HeardAt != 1450*time.Millisecond {
			t.Errorf("interruption wanted/sent/heard at %v/%v/%v, want 600ms/1.41s/1.45s", i.WantedAt, i.SentAt, i.HeardAt)
		}
		if got := tl.Overlap(); got != 0 {
			t.Errorf("overlap: got %v, want 0 on a walkie-talkie", got)
		}
		a := calltest.Said(t, tl, story.LabelAfterthought)
		if a.WantedAt != 2*time.Second || a.SentAt != 2640*time.Millisecond || a.HeardAt != 2680*time.Millisecond {
			t.Errorf("afterthought wanted/sent/heard at %v/%v/%v, want 2s/2.64s/2.68s", a.WantedAt, a.SentAt, a.HeardAt)
		}
	})
}

// TestCancel stops a call mid-story: the call returns promptly with the
// context's error and leaves nothing running (goleak checks).
func TestCancel(t *testing.T) { calltest.Cancelled(t, Mode()) }

func TestRejectsNegativeLatency(t *testing.T) {
	if _, err := call.Run(context.Background(), Mode(), call.Config{Script: story.Default(), Latency: -time.Second}); err == nil {
		t.Error("negative latency: got no error")
	}
}

// TestGrandmaRefusesBadRequests checks grandma's answers to what the
// grandchild would never send.
func TestGrandmaRefusesBadRequests(t *testing.T) {
	rec := timeline.NewRecorder(nil)
	defer rec.Finish()
	g := newGrandma(story.Default(), rec)
	for _, c := range []struct {
		name, method, path, body string
		status                   int
	}{
		{"wrong path", http.MethodPost, "/elsewhere", "hi", http.StatusNotFound},
		{"GET", http.MethodGet, Path, "", http.StatusMethodNotAllowed},
		{"too big", http.MethodPost, Path, strings.Repeat("x", call.MaxLine+1), http.StatusRequestEntityTooLarge},
		{"never sent", http.MethodPost, Path, "hello?", http.StatusBadRequest},
	} {
		w := httptest.NewRecorder()
		g.ServeHTTP(w, httptest.NewRequest(c.method, c.path, strings.NewReader(c.body)))
		if w.Code != c.status {
			t.Errorf("%s: got %d, want %d", c.name, w.Code, c.status)
		}
	}
	// A line that was sent but is not in the script.
	rec.Sent(rec.Want(timeline.Client, "chatter", "nice weather", ""))
	w := httptest.NewRecorder()
	g.ServeHTTP(w, httptest.NewRequest(http.MethodPost, Path, strings.NewReader("nice weather")))
	if w.Code != http.StatusBadRequest {
		t.Errorf("unknown line: got %d, want %d", w.Code, http.StatusBadRequest)
	}
}

// TestSlowLinkAfterthoughtWaitsForARequest: on a link so slow that the
// story is still being told at the afterthought's scripted time, grandma
// remembers the fair when her story is over, and it rides only on the
// answer to a request she hears after that, never on the story itself.
func TestSlowLinkAfterthoughtWaitsForARequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res := calltest.InMemory(t, Mode(), story.Default(), time.Second)
		tl := res.Timeline
		last := calltest.Last(tl, story.LabelStory)
		a := calltest.Said(t, tl, story.LabelAfterthought)
		if a.WantedAt < last.SentAt {
			t.Errorf("afterthought wanted at %v, before the story's last sentence at %v", a.WantedAt, last.SentAt)
		}
		var carrier timeline.Message // the request whose answer carried it
		for _, m := range tl.Messages {
			if m.From == timeline.Client && m.Heard && m.HeardAt > a.WantedAt && m.HeardAt <= a.SentAt {
				carrier = m
			}
		}
		if carrier.Label == "" || a.Waited() < timeline.Resolution || a.Reason != ReasonNoRequest {
			t.Errorf("afterthought wanted at %v, sent at %v (%s): it must wait for a request heard in between", a.WantedAt, a.SentAt, a.Reason)
		}
		if res.Connections != 1 {
			t.Errorf("connections: got %d, want 1", res.Connections)
		}
	})
}

// TestLongSilenceKeepsOneConnection: a goodbye long after the story still
// goes on the one connection: no idle timeout cuts it in between.
func TestLongSilenceKeepsOneConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res := calltest.InMemory(t, Mode(), calltest.Script(t, story.Options{GoodbyeAt: story.MaxScriptTime}), 40*time.Millisecond)
		if res.Connections != 1 {
			t.Errorf("connections: got %d, want 1", res.Connections)
		}
	})
}
