package traceevent

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// naiveLanes places each interval on the first lane where it fits by
// comparing it with every interval placed, as the trace did before lanes
// were indexed, and returns each one's lane.
func naiveLanes(ivs []interval, strict bool) []int {
	var lanes [][]interval
	var out []int
	for _, iv := range ivs {
		n := len(lanes)
		for i, placed := range lanes {
			ok := true
			for _, p := range placed {
				if strict {
					ok = ok && !(iv.start <= p.end && p.start <= iv.end)
				} else {
					ok = ok && fitsAll([]interval{p}, iv)
				}
			}
			if ok {
				lanes[i] = append(placed, iv)
				n = i
				break
			}
		}
		if n == len(lanes) {
			lanes = append(lanes, []interval{iv})
		}
		out = append(out, n)
	}
	return out
}

// TestLanesAsNaive checks that the indexed lanes put every slice where
// comparing it with every slice placed would, for slices in the order they
// start (as Spans gives them), in runs each in order (as the messages of
// each utterance come), and in no order at all.
func TestLanesAsNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 600 {
		n, spread := 1+r.IntN(300), 200
		if round%50 == 0 { // enough slices on one lane to split its runs
			n, spread = 3000, 300_000
		}
		ivs := make([]interval, n)
		for i := range ivs {
			s := time.Duration(r.IntN(spread))
			ivs[i] = interval{s, s + time.Duration(r.IntN(30))}
		}
		switch round % 3 {
		case 0:
			slices.SortStableFunc(ivs, func(a, b interval) int { return compare(a.start, b.start) })
		case 1:
			for k := 0; k < n; k += 1 + r.IntN(50) {
				part := ivs[k:min(n, k+50)]
				slices.SortStableFunc(part, func(a, b interval) int { return compare(a.start, b.start) })
			}
		}
		for _, strict := range []bool{false, true} {
			b := &builder{lanes: map[[2]int][]*lane{}, named: map[[2]int]bool{}}
			want := naiveLanes(ivs, strict)
			for i, iv := range ivs {
				if got := b.lane(timeline.Client, trackSending, strict, iv) - trackSending*100; got != want[i] {
					t.Fatalf("round %d strict %v: slice %d %v on lane %d, want %d", round, strict, i, iv, got, want[i])
				}
			}
		}
	}
}
