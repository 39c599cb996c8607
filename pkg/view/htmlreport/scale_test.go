package htmlreport_test

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/view/htmlreport"
)

// bigCall is one long call of about n events, as a class's record or a
// long session makes: both sides take turns saying lines, one line in
// three waits for the channel (and records a waiting event), every line is
// heard 40 ms after it is sent, and the interruption and the afterthought
// happen once each, so the figure names them. Its events are in timestamp
// order and its messages in the order they were wanted, as Finish gives.
func bigCall(n int) *result.Result {
	const latency = 40 * time.Millisecond
	var events []timeline.Event
	at := time.Duration(0)
	for id := 0; len(events) < n; id++ {
		side := timeline.Side(id % 2)
		label := fmt.Sprintf("line <%d> & '+\"", id/4)
		switch id {
		case 7:
			label = story.LabelInterruption
		case 13:
			label = story.LabelAfterthought
		}
		text := fmt.Sprintf("line %d <said> & \"quoted\", it's 1+%d\x00 é \xff", id, id)
		reason := timeline.ReasonChannelBusy
		msg := timeline.MsgID(id)
		want := at
		events = append(events, timeline.Event{At: want, Side: side, Kind: timeline.KindWant, Msg: msg, Label: label, Text: text, Reason: reason})
		sent := want
		if id%3 == 0 {
			sent = want + 5*time.Millisecond
			events = append(events, timeline.Event{At: want + timeline.Resolution, Side: side, Kind: timeline.KindWaiting, Msg: msg, Label: label, Text: text, Reason: reason, Waited: timeline.Resolution})
		}
		events = append(events, timeline.Event{At: sent, Side: side, Kind: timeline.KindSend, Msg: msg, Label: label, Text: text, Bytes: len(text), Waited: sent - want})
		events = append(events, timeline.Event{At: sent + latency, Side: side.Peer(), Kind: timeline.KindHeard, Msg: msg, Label: label, Text: text, Bytes: len(text)})
		at = sent + 3*time.Millisecond
	}
	slices.SortStableFunc(events, func(a, b timeline.Event) int { return int(a.At - b.At) })
	tl := timeline.Replay(events, events[len(events)-1].At+time.Millisecond)
	var wire [2]int64
	for _, e := range events {
		if e.Kind == timeline.KindSend {
			wire[e.Side] += int64(e.Bytes + 6)
		}
	}
	return &result.Result{
		Mode:          result.Mode{Key: "phone", Name: "the phone", Transport: "WebSocket <one> & \"only\" connection+both 'ways'", ServerMayStart: true},
		Latency:       latency,
		Timeline:      tl,
		WireBytes:     wire,
		Connections:   1,
		PerConnection: []result.ConnBytes{{Bytes: wire}},
	}
}

func writeBig(tb testing.TB, c *result.Result) {
	if err := htmlreport.Write(io.Discard, c); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkWrite measures the page for calls of 10k, 50k and 100k events.
func BenchmarkWrite(b *testing.B) {
	for _, n := range []int{10_000, 50_000, 100_000} {
		c := bigCall(n)
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				writeBig(b, c)
			}
		})
	}
}

// bestOf returns the fastest of runs rounds of writing c reps times, per
// write: the least disturbed by whatever else the machine is doing.
func bestOf(tb testing.TB, c *result.Result, runs, reps int) time.Duration {
	best := time.Duration(1<<63 - 1)
	for range runs {
		runtime.GC() // each round starts from the same clean heap
		start := time.Now()
		for range reps {
			writeBig(tb, c)
		}
		best = min(best, time.Since(start)/time.Duration(reps))
	}
	return best
}

// scaleRatio is how much longer the page takes for ten times the events:
// about 10 when writing it is linear, about 100 when quadratic. The small
// page is written ten times a round, so that both rounds last as long and
// are as exposed to other programs taking the CPU.
func scaleRatio(tb testing.TB, runs int) float64 {
	small, large := bigCall(10_000), bigCall(100_000)
	writeBig(tb, small) // warm up
	return float64(bestOf(tb, large, runs, 1)) / float64(bestOf(tb, small, runs, 10))
}

// BenchmarkScale reports t(100k events) / t(10k events) as "ratio", which
// does not depend on how fast the machine is: about 10 when linear.
func BenchmarkScale(b *testing.B) {
	var ratio float64
	for b.Loop() {
		ratio = scaleRatio(b, 1)
	}
	b.ReportMetric(ratio, "ratio")
}

// TestLinear fails when ten times the events takes much more than ten
// times as long: a quadratic step makes the ratio about 100.
func TestLinear(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes timing ratios meaningless")
	}
	if testing.Short() {
		t.Skip("times a page of 100k events")
	}
	if ratio := scaleRatio(t, 3); ratio > 25 {
		t.Errorf("100k events take %.1f times as long as 10k; linear would be about 10", ratio)
	}
}
