// Package scaletest times a view on calls of ten times the events, for the
// tests that hold each view linear: a ratio of two times taken in the same
// run, which does not depend on how fast or busy the machine is.
package scaletest

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// LongCall returns a call of about n events, as a class's worth of calls
// would give: the grandchild tells a story a sentence every 10ms on a link
// of 40ms, and now and then adds an afterthought after a wait, while grandma
// interrupts every third sentence after a wait of her own, so that messages
// are in flight both ways at once and the message tracks need several
// lanes.
func LongCall(n int) *result.Result {
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

// Ratio returns how many times as long write takes for large as for small:
// the least CPU time of runs rounds each, the small call written ten times
// a round so that both rounds are as exposed to other programs.
func Ratio(tb testing.TB, write func(*result.Result) error, small, large *result.Result, runs int) float64 {
	tb.Helper()
	do := func(res *result.Result) {
		if err := write(res); err != nil {
			tb.Fatal(err)
		}
	}
	best := func(res *result.Result, reps int) time.Duration {
		b := time.Duration(1<<63 - 1)
		for range runs {
			runtime.GC() // each round starts from the same clean heap
			start := cpuTime()
			for range reps {
				do(res)
			}
			b = min(b, (cpuTime()-start)/time.Duration(reps))
		}
		return b
	}
	do(small) // warm up
	return float64(best(large, 1)) / float64(best(small, 10))
}

// Benchmark reports, as "ratio", how many times as long write takes for
// a call of 100k events as for one of 10k made by call: about 10 when
// writing is linear, about 100 when quadratic.
func Benchmark(b *testing.B, write func(*result.Result) error, call func(n int) *result.Result) {
	small, large := call(10_000), call(100_000)
	var ratio float64
	for b.Loop() {
		ratio = Ratio(b, write, small, large, 1)
	}
	b.ReportMetric(ratio, "ratio")
}

// CheckLinear fails t if write takes more than 25 times as long for a call
// of 100k events as for one of 10k made by call. It skips under the race
// detector, which slows code unevenly, and with -short.
func CheckLinear(t *testing.T, write func(*result.Result) error, call func(n int) *result.Result) {
	t.Helper()
	if RaceEnabled {
		t.Skip("the race detector makes timing ratios meaningless")
	}
	if testing.Short() {
		t.Skip("times a call of 100k events")
	}
	if ratio := Ratio(t, write, call(10_000), call(100_000), 2); ratio > 25 {
		t.Errorf("100k events take %.1f times as long as 10k; linear would be about 10", ratio)
	} else {
		t.Logf("100k events take %.1f times as long as 10k", ratio)
	}
}

// Sizes are the calls' sizes, in events, that a view's benchmark writes.
var Sizes = []int{10_000, 50_000, 100_000}
