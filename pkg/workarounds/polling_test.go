package workarounds

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRealTCP plays the call by polling on loopback, and checks what
// polling means, with orderings and bounds that hold on a busy machine:
// each of grandma's lines waits for a poll and is heard within one period
// of being wanted, never before; the polls cost requests and bytes, many
// of them for nothing.
func TestRealTCP(t *testing.T) {
	const latency, every = 10 * time.Millisecond, 80 * time.Millisecond
	res, err := call.Run(context.Background(), Poll(), call.Config{Script: calltest.Script(t, story.Options{Speed: 2}), Latency: latency, Every: every})
	if err != nil {
		t.Fatal(err)
	}
	tl := res.Timeline
	for _, m := range tl.Messages {
		if !m.Sent || !m.Heard {
			t.Fatalf("the %s's %s was not both sent and heard", m.From, m.Label)
		}
		if m.From.String() != "server" {
			continue
		}
		if m.Reason != ReasonNextPoll {
			t.Errorf("grandma's %s waited because %q, want %q", m.Label, m.Reason, ReasonNextPoll)
		}
		if m.HeardAt < m.WantedAt {
			t.Errorf("grandma's %s was heard at %v, before she wanted to say it at %v", m.Label, m.HeardAt, m.WantedAt)
		}
	}
	afterthought := calltest.Said(t, tl, story.LabelAfterthought)
	// Heard at the next poll after she wanted to say it: within a period,
	// plus the poll's round trip and a margin for a busy machine.
	if d := afterthought.HeardAfter(); d > every+2*latency+100*time.Millisecond {
		t.Errorf("the afterthought was heard %v after she wanted it; polls come every %v", d, every)
	}
	if requests := calltest.Fact(t, res, "requests"); requests < float64(3+int(tl.Duration/every)/2) {
		t.Errorf("%v requests in a call of %v polled every %v", requests, tl.Duration, every)
	}
	if empty, cost := calltest.Fact(t, res, "empty_replies"), calltest.Fact(t, res, "empty_bytes"); empty == 0 || cost <= 0 {
		t.Errorf("%v empty replies costing %v bytes; a poll every %v must often bring nothing", empty, cost, every)
	}
	if res.Connections != 1 {
		t.Errorf("connections: %d, want 1", res.Connections)
	}
	if got := tl.Overlap(); got != 0 {
		t.Errorf("overlap: got %v, want 0: one connection carries one direction at a time", got)
	}
}

func TestCancelled(t *testing.T) {
	calltest.Cancelled(t, Poll())
}

func TestBadEvery(t *testing.T) {
	if _, err := call.Run(context.Background(), Poll(), call.Config{Script: story.Default(), Every: time.Microsecond}); err == nil {
		t.Error("a poll every microsecond was accepted")
	}
}

// TestLongPollRealTCP: long polling brings no empty replies; grandma's
// lines wait at most the gap between an answer and the next poll's
// arrival, a round trip; the posts take a second connection.
func TestLongPollRealTCP(t *testing.T) {
	const latency = 20 * time.Millisecond
	res, err := call.Run(context.Background(), LongPoll(), call.Config{Script: calltest.Script(t, story.Options{Speed: 2}), Latency: latency})
	if err != nil {
		t.Fatal(err)
	}
	if empty := calltest.Fact(t, res, "empty_replies"); res.Mode.Key != "longpoll" || empty != 0 {
		t.Errorf("mode %q with %v empty replies; want longpoll with none", res.Mode.Key, empty)
	}
	if res.Connections != 2 {
		t.Errorf("connections: %d, want 2 (the held poll keeps one)", res.Connections)
	}
	for _, m := range res.Timeline.Messages {
		if !m.Sent || !m.Heard {
			t.Fatalf("the %s's %s was not both sent and heard", m.From, m.Label)
		}
		if m.From.String() == "server" && m.Waited() > 2*latency+100*time.Millisecond {
			t.Errorf("grandma's %s waited %v; a poll is back within a round trip (%v)", m.Label, m.Waited(), 2*latency)
		}
	}
	// Between an answer and the next poll's arrival, a round trip, grandma
	// holds no poll and cannot speak.
	gaps, gapMS := calltest.Fact(t, res, "no_poll_gaps"), calltest.Fact(t, res, "no_poll_ms")
	if gaps < 3 || gapMS < gaps*result.MS(latency) {
		t.Errorf("%v stretches without a poll, %v ms in all; want several, each about a round trip (%v)", gaps, gapMS, 2*latency)
	}
	afterthought := calltest.Said(t, res.Timeline, story.LabelAfterthought)
	if d := afterthought.HeardAfter(); d < latency || d > 3*latency+100*time.Millisecond {
		t.Errorf("the afterthought was heard %v after she wanted it; want about one latency (%v)", d, latency)
	}
}

// TestSSERealTCP: with server-sent events grandma says each line the
// moment she wants to, once the stream is open: the interruption's answer
// and the afterthought are heard a latency after she wants them, while the
// grandchild's lines travel the other way on a second connection.
func TestSSERealTCP(t *testing.T) {
	// Sentences every 50ms, each 60ms on the link: while the story is told
	// some sentence is always travelling, so the interruption, posted
	// mid-story, is on the link with one.
	const latency = 60 * time.Millisecond
	res, err := call.Run(context.Background(), SSE(), call.Config{Script: calltest.Script(t, story.Options{Sentences: story.MaxSentences, Pace: 50 * time.Millisecond}), Latency: latency})
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode.Key != "sse" || !res.Mode.ServerMayStart {
		t.Errorf("mode %q, server may start %v; want sse, true", res.Mode.Key, res.Mode.ServerMayStart)
	}
	if res.Connections != 2 {
		t.Errorf("connections: %d, want 2: the stream down and the posts up", res.Connections)
	}
	afterthought := calltest.Said(t, res.Timeline, story.LabelAfterthought)
	if afterthought.Waited() > 50*time.Millisecond {
		t.Errorf("the afterthought waited %v on an open stream", afterthought.Waited())
	}
	interruption := calltest.Said(t, res.Timeline, story.LabelInterruption)
	last := calltest.Last(res.Timeline, story.LabelStory)
	if interruption.HeardAt > last.SentAt {
		t.Errorf("grandma heard the interruption at %v, after her last sentence at %v: it should reach her mid-story", interruption.HeardAt, last.SentAt)
	}
	if res.Timeline.Overlap() == 0 {
		t.Error("no overlap: the stream and the posts should carry lines both ways at once")
	}
}
