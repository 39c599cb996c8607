package link

import (
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Direction is one way across the link, seen from the wrapped end.
type Direction uint8

const (
	// Out is towards the peer: what the wrapped end writes.
	Out Direction = iota
	// In is from the peer: what arrives for the wrapped end.
	In
)

// String returns "out" or "in".
func (d Direction) String() string {
	if d == In {
		return "in"
	}
	return "out"
}

// Interval is a time one direction of the link spent serialising bytes,
// on the link's clock.
type Interval struct {
	Dir        Direction
	Start, End time.Time
}

// MaxIntervals bounds the busy intervals kept for each direction of a
// connection or a Meter. Intervals that touch are always kept as one;
// beyond the bound, the nearest neighbours are merged, the gap between
// them drawn as busy. The busy time is kept exactly all the same.
const MaxIntervals = 1024

// busyLog is the time one direction spent serialising, and when.
type busyLog struct {
	total time.Duration
	spans []Interval // in order, disjoint, never touching
}

// add records that the direction serialised from start to end, no earlier
// than anything recorded before.
func (b *busyLog) add(d Direction, start, end time.Time) {
	if !end.After(start) {
		return
	}
	b.total += end.Sub(start)
	if n := len(b.spans); n > 0 && !start.After(b.spans[n-1].End) {
		b.spans[n-1].End = later(b.spans[n-1].End, end)
		return
	}
	b.spans = append(b.spans, Interval{Dir: d, Start: start, End: end})
	if len(b.spans) > MaxIntervals {
		b.coarsen(MaxIntervals / 2)
	}
}

// coarsen merges neighbours across the smallest gaps until keep spans are
// left: rarely (once every MaxIntervals/2 additions), so adding stays cheap.
func (b *busyLog) coarsen(keep int) {
	merges := len(b.spans) - keep
	gaps := make([]time.Duration, len(b.spans)-1)
	for i := range gaps {
		gaps[i] = b.spans[i+1].Start.Sub(b.spans[i].End)
	}
	sorted := slices.Clone(gaps)
	slices.Sort(sorted)
	limit := sorted[merges-1]
	smaller := 0 // gaps strictly smaller than limit all go; ties go while merges last
	for _, g := range gaps {
		if g < limit {
			smaller++
		}
	}
	ties := merges - smaller
	out := b.spans[:1]
	for i, g := range gaps {
		next := b.spans[i+1]
		if g < limit || (g == limit && ties > 0) {
			if g == limit {
				ties--
			}
			out[len(out)-1].End = next.End
			continue
		}
		out = append(out, next)
	}
	b.spans = out
}

// wire is the link itself: one lane each way, which the connections
// wrapped with one Meter share, as the grandchild's connections share her
// line. Its mutex also guards the busy logs of those connections.
type wire struct {
	mu   sync.Mutex
	free [2]time.Time // when the bytes scheduled so far each way have all been serialised
	busy [2]busyLog
}

// busyTime returns the time d spent serialising, for the wire or one
// connection's share of it.
func (w *wire) busyTime(logs *[2]busyLog, d Direction) time.Duration {
	if w == nil {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return logs[d].total
}

// intervals returns the busy intervals of logs, both directions, in order
// of their start.
func (w *wire) intervals(logs *[2]busyLog) []Interval {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	all := append(slices.Clone(logs[Out].spans), logs[In].spans...)
	slices.SortStableFunc(all, func(a, b Interval) int { return a.Start.Compare(b.Start) })
	return all
}

// path is one connection's way across the link: its profile, the wire it
// shares (nil without a bandwidth), and what each of its directions has
// scheduled.
type path struct {
	profile Profile
	wire    *wire
	src     [2]*rand.PCG                   // the jitter's sources, nil without jitter
	last    [2]time.Time                   // when the last piece scheduled each way is all deliverable
	busy    [2]busyLog                     // this connection's share of the lanes' busy time, guarded by wire.mu
	drawn   func(Direction, time.Duration) // if not nil, told every jitter drawn (tests)
}

// newPath returns the path of a connection with profile p, on w if it has
// a bandwidth, drawing its jitter from the sources whose stream numbers
// start at base (see Profile).
func newPath(p Profile, w *wire, base uint64) path {
	if p.Bandwidth <= 0 {
		w = nil
	}
	return path{profile: p, wire: w, src: [2]*rand.PCG{p.source(base, Out), p.source(base, In)}}
}

// schedule puts a piece of n bytes on direction d at now, and returns
// when the piece before it is all deliverable (after), when its own first
// byte started serialising plus its delay (lead), and when it is all
// deliverable (due): no earlier than after, so that no piece overtakes
// another. Its caller serialises the calls for each direction, in the
// order the pieces are put on the link; jitter says whether the piece
// draws one (an end of stream does not).
func (p *path) schedule(d Direction, now time.Time, n int, jitter bool) (after, lead, due time.Time) {
	start, end := now, now
	if rate := p.profile.Bandwidth; rate > 0 {
		w := p.wire
		w.mu.Lock()
		start = later(now, w.free[d])
		end = start.Add(rate.TimeFor(int64(n)))
		w.free[d] = end
		w.busy[d].add(d, start, end)
		p.busy[d].add(d, start, end)
		w.mu.Unlock()
	}
	delay := p.profile.Latency
	if src := p.src[d]; src != nil && jitter {
		j := draw(src, p.profile.Jitter)
		if p.drawn != nil {
			p.drawn(d, j)
		}
		delay += j
	}
	after = p.last[d]
	lead, due = start.Add(delay), later(end.Add(delay), after)
	p.last[d] = due
	return after, lead, due
}

// BusyTime returns the time direction d of the link spent serialising
// this connection's bytes (0 without a bandwidth).
func (p *path) BusyTime(d Direction) time.Duration {
	return p.wire.busyTime(&p.busy, d)
}

// BusyIntervals returns when the link serialised this connection's bytes,
// both directions, in order of their start (none without a bandwidth).
func (p *path) BusyIntervals() []Interval {
	return p.wire.intervals(&p.busy)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
