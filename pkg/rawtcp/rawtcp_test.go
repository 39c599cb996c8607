package rawtcp

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

// TestRealTCP plays the call on loopback and checks what bare TCP allows,
// with orderings and bounds that hold on a slow, busy machine.
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
	checkLines(t, s, tl)
	// The interruption goes at once, while the story is still streaming,
	// and is heard a latency later: nothing on the wire holds it back.
	lastSentence := calltest.Last(tl, story.LabelStory)
	interruption := calltest.Said(t, tl, story.LabelInterruption)
	if interruption.Waited() > latency/4 {
		t.Errorf("the interruption waited %v; on bare TCP it is sent at once", interruption.Waited())
	}
	if interruption.SentAt >= lastSentence.SentAt {
		t.Errorf("the interruption was sent at %v, after the story's last sentence at %v; want mid-story", interruption.SentAt, lastSentence.SentAt)
	}
	if flight := interruption.HeardAt - interruption.SentAt; flight < latency || flight > latency+250*time.Millisecond {
		t.Errorf("the interruption was heard %v after it was sent; want about one latency (%v)", flight, latency)
	}
	if answer := calltest.Said(t, tl, story.LabelAnswer); answer.SentAt >= lastSentence.SentAt {
		t.Errorf("grandma answered at %v, after the story; she should answer mid-story", answer.SentAt)
	}
	// The afterthought goes unasked: said when she wants to, heard a
	// latency later, long before the grandchild says anything more.
	afterthought := calltest.Said(t, tl, story.LabelAfterthought)
	if afterthought.Waited() > latency/4 {
		t.Errorf("the afterthought waited %v; nobody has to ask for it", afterthought.Waited())
	}
	if after := afterthought.HeardAfter(); after < latency || after > latency+250*time.Millisecond {
		t.Errorf("the afterthought was heard %v after she wanted to say it; want about one latency (%v)", after, latency)
	}
	if bye := calltest.Said(t, tl, story.LabelGoodbye); afterthought.HeardAt >= bye.WantedAt {
		t.Errorf("the afterthought was heard at %v, once the goodbye was wanted at %v; want before", afterthought.HeardAt, bye.WantedAt)
	}
	if got := tl.Overlap(); got <= 0 {
		t.Errorf("overlap: got %v, want some: the interruption travels while the story does", got)
	}
	checkBytes(t, res)
	checkClosed(t, tl)
}

// checkLines checks that every line of the script was sent and heard
// once, each side's in the script's order: the grandchild's question,
// photo if she has one, interruption and goodbye; grandma's story, her
// answer somewhere in it, her afterthought after it and her farewell last.
// Behind a photo, her answer comes when the interruption has crossed behind
// it, which may be after her story and her afterthought.
func checkLines(t *testing.T, s story.Script, tl *timeline.Timeline) {
	t.Helper()
	var said [2][]string
	for _, m := range tl.Messages {
		if !m.Sent || !m.Heard {
			t.Errorf("the %s %q was sent %v, heard %v; want both", m.Label, m.Text, m.Sent, m.Heard)
		}
		said[m.From] = append(said[m.From], m.Text)
	}
	var kid []string
	for _, c := range s.Cues() {
		if c.Label == story.LabelPhoto {
			c.Text = story.PhotoText(len(s.Photo)) // as the timeline keeps it
		}
		kid = append(kid, c.Text)
	}
	if !slices.Equal(said[timeline.Client], kid) {
		t.Errorf("the grandchild said %q, want %q", said[timeline.Client], kid)
	}
	g := said[timeline.Server]
	answer := slices.Index(g, s.Answer)
	last := len(s.Story) - 1 // within the story
	if s.Photo != "" {
		last = len(s.Story) + 1 // or after it, and after the afterthought
	}
	if answer < 1 || answer > last {
		t.Errorf("grandma's answer is line %d of hers, want one of 1 to %d: %q", answer, last, g)
	}
	want := append(slices.Clone(s.Story), s.Afterthought, s.Farewell)
	if answer >= 0 {
		g = slices.Delete(slices.Clone(g), answer, answer+1)
	}
	if !slices.Equal(g, want) {
		t.Errorf("grandma said %q besides her answer, want %q", g, want)
	}
}

// checkBytes checks the bytes each way: every line's text and its newline,
// and nothing else, since no protocol adds anything to them.
func checkBytes(t *testing.T, res *result.Result) {
	t.Helper()
	var payload, lines [2]int64
	for _, m := range res.Timeline.Messages {
		payload[m.From] += int64(m.Bytes()) // a photo's, not its short text's
		lines[m.From]++
	}
	for side, got := range res.WireBytes {
		if got <= payload[side] || got != payload[side]+lines[side] {
			t.Errorf("%v's bytes on the wire: got %d, want its %d bytes of lines and a newline for each of %d", timeline.Side(side), got, payload[side], lines[side])
		}
	}
	if res.Connections != 1 {
		t.Errorf("connections: got %d, want 1", res.Connections)
	}
}

// checkClosed checks that both sides closed the one connection, grandma
// after her farewell was sent.
func checkClosed(t *testing.T, tl *timeline.Timeline) {
	t.Helper()
	farewell, _ := tl.Message(story.LabelFarewell)
	var closed [2]int
	for _, e := range tl.Events {
		if e.Kind != timeline.KindClose {
			continue
		}
		closed[e.Side]++
		if e.At < farewell.SentAt {
			t.Errorf("the %v closed at %v, before the farewell was sent at %v", e.Side, e.At, farewell.SentAt)
		}
	}
	if closed != [2]int{1, 1} {
		t.Errorf("closings (grandchild, grandma): got %v, want one each", closed)
	}
}

// TestExactTimes plays the default call on the fake clock over an
// in-memory network.
func TestExactTimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res := calltest.InMemory(t, Mode(), story.Default(), 40*time.Millisecond)
		tl := res.Timeline
		checkLines(t, story.Default(), tl)
		// The question is wanted at once and waits for the TCP handshake
		// alone: with no protocol on top, there is nothing else to open.
		q := calltest.Said(t, tl, story.LabelQuestion)
		if q.WantedAt != 0 || q.Waited() != 80*time.Millisecond || q.Reason != timeline.ReasonConnecting {
			t.Errorf("question wanted at %v, waited %v (%s); want 0, 80ms, %s", q.WantedAt, q.Waited(), q.Reason, timeline.ReasonConnecting)
		}
		i := calltest.Said(t, tl, story.LabelInterruption)
		if i.WantedAt != 600*time.Millisecond || i.SentAt != 600*time.Millisecond || i.HeardAt != 640*time.Millisecond {
			t.Errorf("interruption wanted/sent/heard at %v/%v/%v, want 600ms/600ms/640ms", i.WantedAt, i.SentAt, i.HeardAt)
		}
		// Grandma starts her story as she hears the question, at 120ms: her
		// third sentence travels from 620ms to 660ms, the interruption
		// from 600ms to 640ms, both ways at once on one connection.
		if got := tl.Overlap(); got != 20*time.Millisecond {
			t.Errorf("overlap: got %v, want 20ms", got)
		}
		a := calltest.Said(t, tl, story.LabelAnswer)
		if a.WantedAt != 640*time.Millisecond || a.Waited() != 0 || a.HeardAt != 680*time.Millisecond {
			t.Errorf("answer wanted at %v, waited %v, heard at %v; want 640ms, 0 and 680ms", a.WantedAt, a.Waited(), a.HeardAt)
		}
		at := calltest.Said(t, tl, story.LabelAfterthought)
		if at.WantedAt != 2*time.Second || at.Waited() != 0 || at.HeardAfter() != 40*time.Millisecond {
			t.Errorf("afterthought wanted at %v, waited %v, heard %v after; want 2s, 0 and 40ms", at.WantedAt, at.Waited(), at.HeardAfter())
		}
		bye := calltest.Said(t, tl, story.LabelGoodbye)
		if farewell := calltest.Said(t, tl, story.LabelFarewell); farewell.SentAt != bye.HeardAt || farewell.HeardAt != bye.SentAt+80*time.Millisecond {
			t.Errorf("farewell sent at %v, heard at %v; want as the goodbye was heard (%v) and a round trip after it was sent (%v)", farewell.SentAt, farewell.HeardAt, bye.HeardAt, bye.SentAt+80*time.Millisecond)
		}
		checkBytes(t, res)
		checkClosed(t, tl)
	})
}

// TestSlowLinkAfterthoughtFollowsTheStory: on a link so slow that the story
// is still being told at the afterthought's scripted time, grandma
// remembers the fair when her story is over, not in the middle of it.
func TestSlowLinkAfterthoughtFollowsTheStory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res := calltest.InMemory(t, Mode(), story.Default(), 500*time.Millisecond)
		checkLines(t, story.Default(), res.Timeline)
		last := calltest.Last(res.Timeline, story.LabelStory)
		a := calltest.Said(t, res.Timeline, story.LabelAfterthought)
		if a.WantedAt != last.SentAt || a.WantedAt <= story.Default().AfterthoughtAt {
			t.Errorf("afterthought wanted at %v; want right after the last sentence, sent at %v", a.WantedAt, last.SentAt)
		}
	})
}

// TestLatencyZero plays the call on plain loopback and in memory, where
// the link only counts.
func TestLatencyZero(t *testing.T) {
	// On real sockets, the script at its own pace: the answer must come
	// within the story, and at 4x speed a busy machine can hold the
	// interruption back past the story's last sentence (its 160 ms).
	real := calltest.Script(t, story.Options{})
	res, err := call.Run(context.Background(), Mode(), call.Config{Script: real})
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, real, res.Timeline)
	checkBytes(t, res)
	checkClosed(t, res.Timeline)
	s := calltest.Script(t, story.Options{Speed: 4})
	synctest.Test(t, func(t *testing.T) {
		res := calltest.InMemory(t, Mode(), s, 0)
		checkLines(t, s, res.Timeline)
		checkBytes(t, res)
	})
}

func TestCancel(t *testing.T) { calltest.Cancelled(t, Mode()) }
