package fullduplex

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRealTCP plays the call on loopback and checks what full duplex
// means, with orderings and bounds that hold on a slow, busy machine.
func TestRealTCP(t *testing.T) {
	// Sentences every 50ms, each 60ms on the link: while the story is told
	// some sentence is always travelling, so the interruption, said
	// mid-story, is on the link with one.
	const latency = 60 * time.Millisecond
	s := calltest.Script(t, story.Options{Sentences: story.MaxSentences, Pace: 50 * time.Millisecond})
	res, err := call.Run(context.Background(), Mode(), call.Config{Script: s, Latency: latency})
	if err != nil {
		t.Fatal(err)
	}
	tl := res.Timeline
	lastSentence := calltest.Last(tl, story.LabelStory)
	interruption := calltest.Said(t, tl, story.LabelInterruption)
	if interruption.HeardAt >= lastSentence.SentAt {
		t.Errorf("grandma heard the interruption at %v, after the story ended at %v; on the phone she hears it mid-story", interruption.HeardAt, lastSentence.SentAt)
	}
	if interruption.Waited() > s.Pace/2 {
		t.Errorf("the interruption waited %v; on the phone it is sent at once", interruption.Waited())
	}
	answer := calltest.Said(t, tl, story.LabelAnswer)
	if answer.SentAt >= lastSentence.SentAt {
		t.Errorf("grandma answered at %v, after the story; she should answer mid-story", answer.SentAt)
	}
	if got := tl.Overlap(); got <= 0 || got > interruption.HeardAt-interruption.SentAt+latency {
		t.Errorf("overlap: got %v, want some, at most the interruption's and its answer's flight: it travels while the story does", got)
	}
	afterthought := calltest.Said(t, tl, story.LabelAfterthought)
	if after := afterthought.HeardAfter(); after < latency || after > latency+250*time.Millisecond {
		t.Errorf("the afterthought was heard %v after she wanted to say it; want about one latency (%v)", after, latency)
	}
	if res.Connections != 1 {
		t.Errorf("connections: got %d, want 1", res.Connections)
	}
}

// TestExactTimes plays the default call on the fake clock over an
// in-memory network.
func TestExactTimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res := calltest.InMemory(t, Mode(), story.Default(), 40*time.Millisecond)
		tl := res.Timeline
		// The question is wanted at once, and waits for the TCP handshake
		// (a round trip) and the WebSocket's opening handshake (another).
		q := calltest.Said(t, tl, story.LabelQuestion)
		if q.WantedAt != 0 || q.Waited() != 160*time.Millisecond || q.Reason != timeline.ReasonConnecting {
			t.Errorf("question wanted at %v, waited %v (%s); want 0, 160ms, %s", q.WantedAt, q.Waited(), q.Reason, timeline.ReasonConnecting)
		}
		i := calltest.Said(t, tl, story.LabelInterruption)
		if i.WantedAt != 600*time.Millisecond || i.SentAt != 600*time.Millisecond || i.HeardAt != 640*time.Millisecond {
			t.Errorf("interruption wanted/sent/heard at %v/%v/%v, want 600ms/600ms/640ms", i.WantedAt, i.SentAt, i.HeardAt)
		}
		a := calltest.Said(t, tl, story.LabelAfterthought)
		if a.WantedAt != 2*time.Second || a.Waited() != 0 || a.HeardAfter() != 40*time.Millisecond {
			t.Errorf("afterthought wanted at %v, waited %v, heard %v after; want 2s, 0 and 40ms", a.WantedAt, a.Waited(), a.HeardAfter())
		}
		// Grandma's sentences leave at 200ms + k×250ms and travel 40ms; the
		// interruption travels from 600ms to 640ms, between two of them:
		// no bytes went both ways at once.
		if got := tl.Overlap(); got != 0 {
			t.Errorf("overlap: got %v, want 0: the interruption travelled between two sentences", got)
		}
		// Interrupting at 710ms, while the third sentence (sent at 700ms)
		// travels: both on the link from 710ms to 740ms.
		res = calltest.InMemory(t, Mode(), calltest.Script(t, story.Options{InterruptAt: 710 * time.Millisecond}), 40*time.Millisecond)
		if got := res.Timeline.Overlap(); got != 30*time.Millisecond {
			t.Errorf("overlap: got %v, want 30ms: the interruption (710ms to 750ms) met a sentence (700ms to 740ms)", got)
		}
		if farewell := calltest.Said(t, tl, story.LabelFarewell); farewell.HeardAt != 2680*time.Millisecond {
			t.Errorf("farewell heard at %v, want 2.68s", farewell.HeardAt)
		}
	})
}

// TestSlowLinkAfterthoughtFollowsTheStory: on a link so slow that the story
// is still being told at the afterthought's scripted time, grandma
// remembers the fair when her story is over, not in the middle of it.
func TestSlowLinkAfterthoughtFollowsTheStory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res := calltest.InMemory(t, Mode(), story.Default(), 500*time.Millisecond)
		last := calltest.Last(res.Timeline, story.LabelStory)
		a := calltest.Said(t, res.Timeline, story.LabelAfterthought)
		if a.WantedAt != last.SentAt || a.WantedAt <= story.Default().AfterthoughtAt {
			t.Errorf("afterthought wanted at %v; want right after the last sentence, sent at %v", a.WantedAt, last.SentAt)
		}
	})
}

func TestCancel(t *testing.T) { calltest.Cancelled(t, Mode()) }

// grandmaServer serves grandma alone on loopback; the test plays the
// grandchild by hand. With no script clock (opened is nil) she never
// remembers the fair, so only what the test sends is answered.
func grandmaServer(t *testing.T) (*httptest.Server, *timeline.Recorder, string) {
	t.Helper()
	rec := timeline.NewRecorder(nil)
	s := calltest.Script(t, story.Options{AfterthoughtAt: time.Minute}) // no afterthought during a test
	srv := httptest.NewServer(&Grandma{script: s, rec: rec, readWait: readWait})
	t.Cleanup(func() {
		srv.Close()
		rec.Finish()
	})
	return srv, rec, "ws" + strings.TrimPrefix(srv.URL, "http") + Path
}

func TestGrandmaRefusesBadCalls(t *testing.T) {
	srv, _, url := grandmaServer(t)
	resp, err := http.Get(srv.URL + Path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("plain GET: got %d, want 400", resp.StatusCode)
	}
	_, resp, err = websocket.DefaultDialer.Dial(url, http.Header{"Origin": {"http://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign Origin: got %v, %v; want 403", resp, err)
	}
}

// TestGrandmaClosesOnBadMessages: each message grandma cannot take closes
// that call with a clear code.
func TestGrandmaClosesOnBadMessages(t *testing.T) {
	_, rec, url := grandmaServer(t)
	for _, c := range []struct {
		name string
		send func(*websocket.Conn) error
		code int
	}{
		{"binary", func(c *websocket.Conn) error { return c.WriteMessage(websocket.BinaryMessage, []byte{1, 2}) }, websocket.CloseUnsupportedData},
		{"too big", func(c *websocket.Conn) error {
			return c.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", call.MaxLine+1)))
		}, websocket.CloseMessageTooBig},
		{"never sent", func(c *websocket.Conn) error { return c.WriteMessage(websocket.TextMessage, []byte("hello?")) }, websocket.CloseProtocolError},
		{"not in the script", func(c *websocket.Conn) error {
			rec.Sent(rec.Want(timeline.Client, "chatter", "nice weather", ""))
			return c.WriteMessage(websocket.TextMessage, []byte("nice weather"))
		}, websocket.CloseProtocolError},
	} {
		conn, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.send(conn); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err = conn.ReadMessage()
		if !websocket.IsCloseError(err, c.code) {
			t.Errorf("%s: got %v, want close %d", c.name, err, c.code)
		}
		conn.Close()
	}
}

// TestAskingTwiceTellsTheStoryOnce: a second question does not restart
// the story, let alone run past its end.
func TestAskingTwiceTellsTheStoryOnce(t *testing.T) {
	_, rec, url := grandmaServer(t)
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s := story.Default()
	for range 2 {
		rec.Sent(rec.Want(timeline.Client, story.LabelQuestion, s.Question, ""))
		if err := conn.WriteMessage(websocket.TextMessage, []byte(s.Question)); err != nil {
			t.Fatal(err)
		}
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := range s.Story {
		_, msg, err := conn.ReadMessage()
		if err != nil || string(msg) != s.Story[i] {
			t.Fatalf("sentence %d: got %q, %v; want %q", i+1, msg, err, s.Story[i])
		}
	}
	conn.SetReadDeadline(time.Now().Add(2 * s.Pace))
	if _, msg, err := conn.ReadMessage(); err == nil {
		t.Errorf("after the story she said %q; she should not start again", msg)
	}
}

// TestLongSilenceKeepsTheCall: a goodbye long after the story still finds
// the call open: no read deadline cuts it in between.
func TestLongSilenceKeepsTheCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res := calltest.InMemory(t, Mode(), calltest.Script(t, story.Options{GoodbyeAt: story.MaxScriptTime}), 40*time.Millisecond)
		calltest.Said(t, res.Timeline, story.LabelFarewell)
	})
}

// TestInterruptsOnlyOnceTheStoryHasBegun: an interruption scripted before
// the story reaches the grandchild waits until she has heard it begin, so
// that it still lands in the middle of it.
func TestInterruptsOnlyOnceTheStoryHasBegun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res := calltest.InMemory(t, Mode(), calltest.Script(t, story.Options{InterruptAt: 50 * time.Millisecond}), 40*time.Millisecond)
		first, _ := res.Timeline.Message(story.LabelStory)
		i := calltest.Said(t, res.Timeline, story.LabelInterruption)
		if i.WantedAt != first.HeardAt || i.HeardAt >= calltest.Last(res.Timeline, story.LabelStory).SentAt {
			t.Errorf("interruption wanted at %v, heard at %v; want when the first sentence was heard (%v), mid-story", i.WantedAt, i.HeardAt, first.HeardAt)
		}
	})
}

// TestSaysGoodbyeOnlyOnceTheStoryIsOver: on a link slow enough that the
// story is still arriving at the goodbye's scripted time, the grandchild
// waits to hear all of it, and grandma's afterthought, before hanging up.
func TestSaysGoodbyeOnlyOnceTheStoryIsOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res := calltest.InMemory(t, Mode(), story.Default(), time.Second)
		last := calltest.Last(res.Timeline, story.LabelStory)
		bye := calltest.Said(t, res.Timeline, story.LabelGoodbye)
		calltest.Said(t, res.Timeline, story.LabelAfterthought)
		if bye.WantedAt < last.HeardAt {
			t.Errorf("goodbye wanted at %v, before the story's end was heard at %v", bye.WantedAt, last.HeardAt)
		}
	})
}
