package render

import (
	"strings"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/view/report"
)

// TestSummaryPhoto: a call with a photo has one line of it in the
// summary, its size and how long the interruption queued behind it (or
// that nothing queues, without a bandwidth); a call without one has none.
func TestSummaryPhoto(t *testing.T) {
	var c report.Call
	c.Mode, c.Transport = "phone", "WebSocket"
	style := Style{Width: 80, ASCII: true}
	var b strings.Builder
	if err := Summary(&b, c, style); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "photo") {
		t.Errorf("a call without a photo:\n%s", b.String())
	}
	c.Summary.Photo = &report.Photo{Bytes: 200_000, InterruptionBehindPhotoMS: ptr(1603.2)}
	b.Reset()
	if err := Summary(&b, c, style); err != nil {
		t.Fatal(err)
	}
	if want := "  photo         200KB, the interruption waited 1603 ms while the link carried it up\n"; !strings.Contains(b.String(), want) {
		t.Errorf("the summary lacks %q:\n%s", want, b.String())
	}
	c.Summary.Photo.InterruptionBehindPhotoMS = nil // no bandwidth
	b.Reset()
	if err := Summary(&b, c, style); err != nil {
		t.Fatal(err)
	}
	if want := "  photo         200KB (a link without a --bandwidth queues nothing behind it)\n"; !strings.Contains(b.String(), want) {
		t.Errorf("the summary lacks %q:\n%s", want, b.String())
	}
}

func ptr(v float64) *float64 { return &v }

// TestCompareSaysItsLink: the comparison's title says the link and the
// photo its calls shared, so a printed table can be played again.
func TestCompareSaysItsLink(t *testing.T) {
	c := report.Call{Mode: "phone", LatencyMS: 40, Link: &report.Link{BandwidthBPS: 1_000_000, JitterMS: 10, Seed: 4}}
	c.Summary.Photo = &report.Photo{Bytes: 200_000}
	var b strings.Builder
	if err := Compare(&b, report.Compare(c), Style{Width: 120, ASCII: true}); err != nil {
		t.Fatal(err)
	}
	if want := "Compare: the same call 1 ways, latency 40 ms, 1Mbit each way, a 200KB photo, jitter 10 ms, seed 4\n"; !strings.HasPrefix(b.String(), want) {
		t.Errorf("the title is not %q:\n%s", want, b.String())
	}
}

// TestLinkLaneShowsHowBusy: a column of a link lane busy for at least
// half its time is drawn busy, one busy for less (a short line, an
// acknowledgement) partly, one not at all idle.
func TestLinkLaneShowsHowBusy(t *testing.T) {
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	lane := Lane{Name: "link up", Side: timeline.Client, Link: true, Spans: []timeline.Span{
		{Side: timeline.Client, State: timeline.Talking, Start: ms(0), End: ms(6)},     // 6 of the first 10 ms
		{Side: timeline.Client, State: timeline.Talking, Start: ms(10), End: ms(10.4)}, // a short line
	}}
	g := Style{ASCII: true}.glyphs()
	var got string
	for c := range 3 {
		got += cell(lane, ms(float64(10*c)), ms(float64(10*c+10)), g, Style{ASCII: true})
	}
	if want := g.talk + g.listen + g.idle; got != want {
		t.Errorf("the link lane's columns are %q, want %q", got, want)
	}
}
