package webtransport

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/link"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// TestInterruptionOvertakesThePhoto: a 200KB photo goes up the call's
// stream on a 1Mbit link, at 40ms each way, on real sockets, and the
// interruption, sent just after it began, on a stream of its own. The
// photo takes 1.6 s on the link (rate.TimeFor); the interruption queues
// only behind what quic-go had put on the link before it: nothing, or the
// photo's first burst (ten packets and a few paced after them, about 15KB,
// 0.12 s at 1Mbit), at most a congestion window. Grandma hears it, and the
// grandchild her answer, long before the photo has crossed. Every line is
// said and heard once; the grandchild's are sent in the script's order,
// and grandma's heard in the order she said them; the photo is as in every
// mode (calltest.Photo). Orderings, and bounds from the link's rate with
// wide margins: a busy machine only delays what the test sees.
func TestInterruptionOvertakesThePhoto(t *testing.T) {
	const (
		size    = 200_000
		latency = 40 * time.Millisecond
		rate    = 1 * link.Mbit
	)
	s, err := story.New(story.Options{Photo: size})
	if err != nil {
		t.Fatal(err)
	}
	res, err := call.Run(context.Background(), Mode(), call.Config{Script: s, Latency: latency, Bandwidth: rate})
	if err != nil {
		t.Fatal(err)
	}
	tl := res.Timeline
	lines(t, tl, timeline.Server) // heard in the order she said them
	var said []timeline.Message
	for _, m := range tl.Messages {
		if m.From != timeline.Client {
			continue
		}
		if !m.Sent || !m.Heard {
			t.Errorf("the %s was not both sent and heard: %+v", m.Label, m)
		}
		said = append(said, m)
	}
	slices.SortStableFunc(said, func(a, b timeline.Message) int { return int(a.SentAt - b.SentAt) })
	var labels []string
	for _, m := range said {
		labels = append(labels, m.Label)
	}
	if want := []string{story.LabelQuestion, story.LabelPhoto, story.LabelInterruption, story.LabelGoodbye}; !slices.Equal(labels, want) {
		t.Errorf("the grandchild said %v, want %v", labels, want)
	}
	for _, label := range []string{story.LabelStory, story.LabelAnswer, story.LabelAfterthought, story.LabelFarewell} {
		calltest.Said(t, tl, label)
	}

	p := calltest.Photo(t, res, size)
	onLink := rate.TimeFor(size) // 1.6 s
	if crossed := p.HeardAt - p.SentAt; crossed < onLink {
		t.Errorf("the photo crossed in %v; at %v it takes at least %v", crossed, rate, onLink)
	}
	i := calltest.Said(t, tl, story.LabelInterruption)
	a := calltest.Said(t, tl, story.LabelAnswer)
	g := calltest.Said(t, tl, story.LabelGoodbye)
	if i.Waited() > slack {
		t.Errorf("the interruption waited %v; on a stream of its own it goes as soon as the photo has begun", i.Waited())
	}
	if i.HeardAt >= p.HeardAt || a.HeardAt >= p.HeardAt {
		t.Errorf("the interruption was heard at %v and its answer at %v, the photo at %v; want both before the photo",
			i.HeardAt, a.HeardAt, p.HeardAt)
	}
	if g.HeardAt < p.HeardAt {
		t.Errorf("the goodbye was heard at %v, before the photo at %v, on the same stream behind it", g.HeardAt, p.HeardAt)
	}
	if flight := i.HeardAt - i.SentAt; flight > onLink/2 {
		t.Errorf("the interruption took %v to be heard; behind the photo on a stream of its own, want far less than the photo's %v on the link", flight, onLink)
	}
	if n := calltest.Fact(t, res, "streams"); n != 2 {
		t.Errorf("the grandchild opened %v streams; want 2, the call's and the interruption's", n)
	}
	t.Logf("the interruption was heard %v after it was sent; the photo %v", i.HeardAt-i.SentAt, p.HeardAt-p.SentAt)
}
