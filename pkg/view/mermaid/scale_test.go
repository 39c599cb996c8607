package mermaid_test

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/view/mermaid"
)

// longCall returns a call of about n events, as a class's worth of calls
// would give: the grandchild tells a story a sentence every 10ms on a link
// of 40ms, and now and then adds an afterthought after a wait, while grandma
// interrupts every third sentence after a wait of her own, so that messages
// are in flight both ways at once and the message tracks need several
// lanes.
func longCall(n int) *result.Result {
	var events []timeline.Event
	id := timeline.MsgID(0)
	say := func(from timeline.Side, label, text, reason string, wanted, waited, flight time.Duration) {
		events = append(events,
			timeline.Event{At: wanted, Side: from, Kind: timeline.KindWant, Msg: id, Label: label, Text: text, Reason: reason},
			timeline.Event{At: wanted + waited, Side: from, Kind: timeline.KindSend, Msg: id, Label: label, Text: text, Bytes: len(text), Waited: waited},
			timeline.Event{At: wanted + waited + flight, Side: from.Peer(), Kind: timeline.KindHeard, Msg: id, Label: label, Text: text, Bytes: len(text)},
		)
		id++
	}
	events = append(events, timeline.Event{At: 0, Side: timeline.Client, Kind: timeline.KindConnect, Msg: timeline.NoMsg, Text: "connection open"})
	var t time.Duration
	for i := 0; len(events) < n-1; i++ {
		t = time.Duration(i) * 10 * time.Millisecond
		say(timeline.Client, "story", fmt.Sprintf("Sentence %d of the story; it goes on.", i), "", t+time.Millisecond, 0, 40*time.Millisecond+time.Duration(i%5)*time.Millisecond)
		if i%3 == 1 {
			say(timeline.Server, "interruption", fmt.Sprintf("Grandma's question %d?", i), timeline.ReasonChannelBusy, t+2*time.Millisecond, 4*time.Millisecond, 41*time.Millisecond)
		}
		if i%7 == 3 {
			say(timeline.Client, "afterthought", fmt.Sprintf("Oh, and %d.", i), timeline.ReasonChannelBusy, t+3*time.Millisecond, 2*time.Millisecond, 40*time.Millisecond)
		}
	}
	end := t + 100*time.Millisecond
	events = append(events, timeline.Event{At: end, Side: timeline.Client, Kind: timeline.KindClose, Msg: timeline.NoMsg, Text: "connection closed"})
	slices.SortStableFunc(events, func(a, b timeline.Event) int { return int(a.At - b.At) })
	return &result.Result{
		Mode:     result.Mode{Key: "phone", Name: "the phone", Transport: "a WebSocket", ServerMayStart: true},
		Latency:  40 * time.Millisecond,
		Timeline: timeline.Replay(events, end),
	}
}

// TestLongCallOnce checks that a long call, one par block of messages in
// flight both ways with the notes of waits among them, draws each message
// once.
func TestLongCallOnce(t *testing.T) {
	res := longCall(3000)
	d := mermaid.Diagram(res)
	arrows := map[string]bool{}
	for _, l := range strings.Split(d, "\n") {
		if arrowLine.MatchString(strings.TrimSpace(l)) {
			if arrows[l] {
				t.Fatalf("the diagram draws %q twice", l)
			}
			arrows[l] = true
		}
	}
	sent := 0
	for _, m := range res.Timeline.Messages {
		if m.Sent {
			sent++
		}
	}
	if len(arrows) != sent {
		t.Errorf("%d arrows, want one per message sent: %d", len(arrows), sent)
	}
	if !strings.Contains(d, "    par ") {
		t.Error("no par block: the long call should have messages in flight both ways at once")
	}
}

func BenchmarkWrite(b *testing.B) {
	for _, n := range []int{10_000, 50_000, 100_000} {
		res := longCall(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				write(b, res)
			}
		})
	}
}

func write(tb testing.TB, res *result.Result) {
	if err := mermaid.Write(io.Discard, res); err != nil {
		tb.Fatal(err)
	}
}

// bestOf returns the least CPU time writing res took in runs tries.
func bestOf(tb testing.TB, res *result.Result, runs int) time.Duration {
	best := time.Duration(1<<63 - 1)
	for range runs {
		runtime.GC()
		start := cpuTime()
		write(tb, res)
		best = min(best, cpuTime()-start)
	}
	return best
}

// scaleRatio returns how many times as long writing a call of large events
// takes as one of small.
func scaleRatio(tb testing.TB, small, large, runs int) float64 {
	s, l := longCall(small), longCall(large)
	write(tb, s) // warm up
	return float64(bestOf(tb, l, runs)) / float64(bestOf(tb, s, 2*runs))
}

// BenchmarkScale reports t(100k events) / t(10k events) as "ratio", which
// is about 10 when writing is linear and about 100 when it is quadratic.
func BenchmarkScale(b *testing.B) {
	var ratio float64
	for b.Loop() {
		ratio = scaleRatio(b, 10_000, 100_000, 1)
	}
	b.ReportMetric(ratio, "ratio")
}

// TestLinear fails if a call of ten times the events takes more than 25
// times as long to write: a quadratic step makes the ratio about 100.
func TestLinear(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes timing ratios meaningless")
	}
	if testing.Short() {
		t.Skip("times a long call")
	}
	if ratio := scaleRatio(t, 10_000, 100_000, 2); ratio > 25 {
		t.Errorf("100k events take %.1f times as long as 10k; linear would be about 10", ratio)
	} else {
		t.Logf("100k events take %.1f times as long as 10k", ratio)
	}
}
