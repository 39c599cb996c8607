package h2

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRealTCP plays the call on loopback and checks what HTTP/2 streams
// mean, with orderings and bounds that hold on a slow, busy machine.
func TestRealTCP(t *testing.T) {
	// Sentences every 50ms, each 60ms on the link: while the story is told
	// some sentence is always travelling, so the interruption, said
	// mid-story, travels beside one.
	const latency = 60 * time.Millisecond
	s := calltest.Script(t, story.Options{Sentences: story.MaxSentences, Pace: 50 * time.Millisecond})
	res, err := call.Run(context.Background(), Mode(), call.Config{Script: s, Latency: latency})
	if err != nil {
		t.Fatal(err)
	}
	tl := res.Timeline
	checkLines(t, s, tl)

	// The question waits for the connection: the TCP handshake's round trip.
	q := calltest.Said(t, tl, story.LabelQuestion)
	if q.Reason != timeline.ReasonConnecting || q.Waited() < 2*latency {
		t.Errorf("the question waited %v (%s); want at least the TCP handshake's round trip, %v (%s)", q.Waited(), q.Reason, 2*latency, timeline.ReasonConnecting)
	}
	// The interruption goes at once, on a stream of its own, and grandma
	// hears it one latency later, in the middle of her story.
	lastSentence := calltest.Last(tl, story.LabelStory)
	i := calltest.Said(t, tl, story.LabelInterruption)
	if i.Waited() > s.Pace/2 {
		t.Errorf("the interruption waited %v; on its own stream it goes at once", i.Waited())
	}
	if d := i.HeardAt - i.SentAt; d < latency || d > latency+250*time.Millisecond {
		t.Errorf("the interruption was heard %v after it was sent; want about one latency (%v)", d, latency)
	}
	if i.HeardAt >= lastSentence.SentAt {
		t.Errorf("grandma heard the interruption at %v, after the story ended at %v; she hears it mid-story", i.HeardAt, lastSentence.SentAt)
	}
	if a := calltest.Said(t, tl, story.LabelAnswer); a.SentAt >= lastSentence.SentAt {
		t.Errorf("grandma answered at %v, after the story; she answers mid-story", a.SentAt)
	}
	// The afterthought goes unasked, the moment she thinks of it.
	a := calltest.Said(t, tl, story.LabelAfterthought)
	if a.Waited() > 50*time.Millisecond {
		t.Errorf("the afterthought waited %v; on the open stream she says it at once", a.Waited())
	}
	if after := a.HeardAfter(); after < latency || after > latency+250*time.Millisecond {
		t.Errorf("the afterthought was heard %v after she wanted to say it; want about one latency (%v)", after, latency)
	}
	if res.Connections != 1 || len(res.PerConnection) != 1 {
		t.Errorf("connections: got %d (%d counted), want 1: every stream shares one", res.Connections, len(res.PerConnection))
	}
	if got := calltest.Fact(t, res, "streams"); got != 2 {
		t.Errorf("streams: got %v, want 2: the call's, and the interruption's", got)
	}
	checkBytes(t, res)
}

// TestExactTimes plays the default call on the fake clock over an
// in-memory network.
func TestExactTimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const latency = 40 * time.Millisecond
		res := calltest.InMemory(t, Mode(), story.Default(), latency)
		tl := res.Timeline
		checkLines(t, story.Default(), tl)
		// The question is wanted at once and waits for the TCP handshake's
		// round trip only: the client sends its request right behind its
		// preface and SETTINGS, without waiting for grandma's.
		q := calltest.Said(t, tl, story.LabelQuestion)
		if q.WantedAt != 0 || q.Waited() != 80*time.Millisecond || q.HeardAt != 120*time.Millisecond || q.Reason != timeline.ReasonConnecting {
			t.Errorf("question wanted at %v, waited %v (%s), heard at %v; want 0, 80ms (%s), 120ms", q.WantedAt, q.Waited(), q.Reason, q.HeardAt, timeline.ReasonConnecting)
		}
		i := calltest.Said(t, tl, story.LabelInterruption)
		if i.WantedAt != 600*time.Millisecond || i.SentAt != 600*time.Millisecond || i.HeardAt != 640*time.Millisecond {
			t.Errorf("interruption wanted/sent/heard at %v/%v/%v, want 600ms/600ms/640ms", i.WantedAt, i.SentAt, i.HeardAt)
		}
		if a := calltest.Said(t, tl, story.LabelAnswer); a.WantedAt != 640*time.Millisecond || a.SentAt != 640*time.Millisecond || a.HeardAt != 680*time.Millisecond {
			t.Errorf("answer wanted/sent/heard at %v/%v/%v, want 640ms/640ms/680ms", a.WantedAt, a.SentAt, a.HeardAt)
		}
		a := calltest.Said(t, tl, story.LabelAfterthought)
		if a.WantedAt != 2*time.Second || a.Waited() != 0 || a.HeardAfter() != latency {
			t.Errorf("afterthought wanted at %v, waited %v, heard %v after; want 2s, 0 and 40ms", a.WantedAt, a.Waited(), a.HeardAfter())
		}
		if f := calltest.Said(t, tl, story.LabelFarewell); f.HeardAt != 2680*time.Millisecond {
			t.Errorf("farewell heard at %v, want 2.68s", f.HeardAt)
		}
		if res.Connections != 1 || calltest.Fact(t, res, "streams") != 2 {
			t.Errorf("%d connections, %v streams; want 1 and 2", res.Connections, calltest.Fact(t, res, "streams"))
		}
		checkBytes(t, res)
	})
}

// TestSameBytes: the same call on the fake clock crosses the same bytes
// every time. Each call has a bubble of its own: grandma's answers carry a
// Date header, which HPACK sends whole when its second has changed since
// the last answer and as a 1-byte index when it has not.
func TestSameBytes(t *testing.T) {
	var bytes [2][2]int64
	for k := range bytes {
		synctest.Test(t, func(t *testing.T) {
			bytes[k] = calltest.InMemory(t, Mode(), story.Default(), 40*time.Millisecond).WireBytes
		})
	}
	if bytes[0] != bytes[1] {
		t.Errorf("bytes: %v, then %v; the same call must cross the same bytes", bytes[0], bytes[1])
	}
}

// TestInterruptionMeetsASentence: grandma hears the interruption at the
// very moment a sentence is due, so her answer and the sentence leave at
// once, on two streams, and arrive at once: each is heard once, in the
// order she said them.
func TestInterruptionMeetsASentence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Sentences leave at 120ms + k×250ms; interrupting at 580ms, she
		// hears it at 620ms, with the third sentence due.
		s := calltest.Script(t, story.Options{InterruptAt: 580 * time.Millisecond})
		res := calltest.InMemory(t, Mode(), s, 40*time.Millisecond)
		checkLines(t, s, res.Timeline)
		if a := calltest.Said(t, res.Timeline, story.LabelAnswer); a.SentAt != 620*time.Millisecond || a.HeardAt != 660*time.Millisecond {
			t.Errorf("answer sent at %v, heard at %v; want 620ms and 660ms", a.SentAt, a.HeardAt)
		}
	})
}

// TestSlowLinkAfterthoughtFollowsTheStory: on a link so slow that the
// story is still being told at the afterthought's scripted time, grandma
// remembers the fair when her story is over, and the grandchild says
// goodbye only once she has heard all of it.
func TestSlowLinkAfterthoughtFollowsTheStory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res := calltest.InMemory(t, Mode(), story.Default(), time.Second)
		checkLines(t, story.Default(), res.Timeline)
		last := calltest.Last(res.Timeline, story.LabelStory)
		a := calltest.Said(t, res.Timeline, story.LabelAfterthought)
		if a.WantedAt != last.SentAt || a.WantedAt <= story.Default().AfterthoughtAt {
			t.Errorf("afterthought wanted at %v; want right after the last sentence, sent at %v", a.WantedAt, last.SentAt)
		}
		if bye := calltest.Said(t, res.Timeline, story.LabelGoodbye); bye.WantedAt < last.HeardAt {
			t.Errorf("goodbye wanted at %v, before the story's end was heard at %v", bye.WantedAt, last.HeardAt)
		}
	})
}

// TestLongSilenceKeepsTheCall: a goodbye long after the story still finds
// the call's stream open: no deadline cuts it in between.
func TestLongSilenceKeepsTheCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res := calltest.InMemory(t, Mode(), calltest.Script(t, story.Options{GoodbyeAt: story.MaxScriptTime}), 40*time.Millisecond)
		calltest.Said(t, res.Timeline, story.LabelFarewell)
	})
}

// TestInterruptsOnlyOnceTheStoryHasBegun: an interruption scripted before
// the story reaches the grandchild waits until she has heard it begin.
func TestInterruptsOnlyOnceTheStoryHasBegun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res := calltest.InMemory(t, Mode(), calltest.Script(t, story.Options{InterruptAt: 50 * time.Millisecond}), 40*time.Millisecond)
		first, _ := res.Timeline.Message(story.LabelStory)
		i := calltest.Said(t, res.Timeline, story.LabelInterruption)
		if i.WantedAt != first.HeardAt {
			t.Errorf("interruption wanted at %v; want when the first sentence was heard (%v)", i.WantedAt, first.HeardAt)
		}
	})
}

func TestCancel(t *testing.T) { calltest.Cancelled(t, Mode()) }

// checkLines checks that every line was sent and heard exactly once, and
// that each side's lines went in the script's order and were heard in the
// order they were sent.
func checkLines(t *testing.T, s story.Script, tl *timeline.Timeline) {
	t.Helper()
	var said [2][]timeline.Message
	for _, m := range tl.Messages {
		if !m.Sent || !m.Heard {
			t.Errorf("the %s's %s %q was not both sent and heard", m.From, m.Label, m.Text)
			continue
		}
		said[m.From] = append(said[m.From], m)
	}
	for side, ms := range said {
		slices.SortFunc(ms, func(a, b timeline.Message) int { return int(a.SentAt - b.SentAt) })
		for k := 1; k < len(ms); k++ {
			if ms[k].HeardAt < ms[k-1].HeardAt {
				t.Errorf("the %s's %q was heard at %v, before %q, sent before it, at %v", timeline.Side(side), ms[k].Text, ms[k].HeardAt, ms[k-1].Text, ms[k-1].HeardAt)
			}
		}
	}
	texts := func(ms []timeline.Message, skip string) []string {
		var out []string
		for _, m := range ms {
			if m.Label != skip {
				out = append(out, m.Text)
			}
		}
		return out
	}
	if got, want := texts(said[timeline.Client], ""), []string{s.Question, s.Interruption, s.Goodbye}; !slices.Equal(got, want) {
		t.Errorf("the grandchild said %q, want %q", got, want)
	}
	// Grandma's answer comes wherever the interruption fell in her story.
	want := append(slices.Clone(s.Story), s.Afterthought, s.Farewell)
	if got := texts(said[timeline.Server], story.LabelAnswer); !slices.Equal(got, want) {
		t.Errorf("grandma said %q, want %q, and the answer", got, want)
	}
	if n := len(said[timeline.Server]) - len(want); n != 1 {
		t.Errorf("grandma answered %d times, want once", n)
	}
}

// checkBytes checks that each way carried more than the lines: HTTP/2's
// frames, headers and settings are counted where they crossed.
func checkBytes(t *testing.T, res *result.Result) {
	t.Helper()
	payload := res.PayloadBytes()
	for side, n := range res.WireBytes {
		if n <= payload[side] {
			t.Errorf("the %s sent %d bytes on the wire for %d bytes of lines; framing costs more", timeline.Side(side), n, payload[side])
		}
	}
}
