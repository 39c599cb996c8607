package htmlreport_test

import (
	"github.com/duplexdemo/duplexdemo/internal/scaletest"

	"fmt"
	"io"
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

func write(c *result.Result) error { return htmlreport.Write(io.Discard, c) }

// BenchmarkWrite measures the page for calls of 10k, 50k and 100k events.
func BenchmarkWrite(b *testing.B) {
	for _, n := range scaletest.Sizes {
		c := bigCall(n)
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := write(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkScale reports t(100k events) / t(10k events) as "ratio", which
// does not depend on how fast the machine is: about 10 when linear.
func BenchmarkScale(b *testing.B) { scaletest.Benchmark(b, write, bigCall) }

// TestLinear fails when ten times the events takes much more than ten
// times as long: a quadratic step makes the ratio about 100.
func TestLinear(t *testing.T) { scaletest.CheckLinear(t, write, bigCall) }
