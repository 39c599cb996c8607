// Package roundtrip holds what every mode's BenchmarkRoundTrip shares: a
// line carried there and back through the mode's own machinery at latency
// 0, timed against a bare gorilla/websocket echo on the same machine in the
// same run.
//
// The two take turns in blocks of trips, the first to go changing from one
// block to the next, so that a noisy machine slows both alike and their
// ratio stays meaningful where their times do not. Compare reports each
// one's time per trip (mode-ns/op, gorilla-ns/op) and the ratio of the two.
package roundtrip

import (
	"testing"
	"time"
)

// block is how many trips one line makes before the other's turn: long
// enough that the switch costs nothing measurable, short enough that both
// lines see the same moods of a busy machine.
const block = 256

// Line carries lines there and back, one at a time.
type Line struct {
	// Trip carries one line there and back: it returns once the answer has
	// been heard, or the reason it will not be.
	Trip func() error
	// Rest, if not nil, is called before each block of trips, off the
	// clock, with the number of trips the block will make: a line whose
	// calls carry only so many renews its call there, and its recorder
	// forgets what it recorded, so that its memory stays bounded.
	Rest func(next int) error
}

// Compare times b.N trips of mode and b.N trips of a bare gorilla/websocket
// echo (Echo), taking turns in blocks, and reports mode-ns/op and
// gorilla-ns/op, the time of one trip of each, and ratio, mode's time over
// gorilla's. The benchmark's own ns/op is the two together.
func Compare(b *testing.B, mode Line) {
	b.Helper()
	lines := [2]Line{mode, Echo(b)}
	var spent [2]time.Duration
	b.ResetTimer()
	for i, done := 0, 0; done < b.N; i, done = i+1, done+block {
		n := min(block, b.N-done)
		for turn := range 2 {
			k := (turn + i) % 2 // mode first in even blocks, gorilla first in odd ones
			if rest := lines[k].Rest; rest != nil {
				b.StopTimer()
				err := rest(n)
				b.StartTimer()
				if err != nil {
					b.Fatal(err)
				}
			}
			d, err := trips(n, lines[k].Trip)
			if err != nil {
				b.Fatal(err)
			}
			spent[k] += d
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(spent[0].Nanoseconds())/float64(b.N), "mode-ns/op")
	b.ReportMetric(float64(spent[1].Nanoseconds())/float64(b.N), "gorilla-ns/op")
	b.ReportMetric(float64(spent[0])/float64(spent[1]), "ratio")
}

// trips times n trips of trip.
func trips(n int, trip func() error) (time.Duration, error) {
	start := time.Now()
	for range n {
		if err := trip(); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// Check carries a few lines on line, rests it before a block longer than
// any call carries (a line with bounded calls starts a new one there), and
// carries a few more: a benchmark's line, tested where benchmarks are not
// run.
func Check(tb testing.TB, line Line) {
	tb.Helper()
	carry := func() {
		tb.Helper()
		if _, err := trips(3, line.Trip); err != nil {
			tb.Fatal(err)
		}
	}
	carry()
	if line.Rest != nil {
		if err := line.Rest(1 << 20); err != nil {
			tb.Fatal(err)
		}
	}
	carry()
}
