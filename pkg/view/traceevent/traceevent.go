// Package traceevent writes measured calls in the Chrome Trace Event Format,
// the JSON that Perfetto (ui.perfetto.dev) opens.
//
// Each side of each call is a process. Its threads are tracks:
//
//   - talking: what the side said, one slice per utterance, with an instant
//     where it wanted to say each line;
//   - waiting to talk: each wait between wanting to say a line and the
//     channel letting it go, with the reason in its args;
//   - sending and receiving: one slice per message, from its first byte being
//     sent to its being heard, on the sender's and on the receiver's side,
//     joined by a flow arrow;
//   - listening: what the side heard, one slice per utterance, with an
//     instant where it heard each line;
//   - link up (the grandchild's) or link down (grandma's), on a link with a
//     bandwidth: one "busy" slice per time the link spent serialising the
//     side's bytes.
//
// Perfetto does not draw slices that partly overlap on one track, so a track
// that would need to is split in two ("sending (2)"). Timestamps are
// whole microseconds since the call began; several calls in one file share that
// axis, one call's processes above the next's.
package traceevent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// File is a whole trace file, in the format's JSON object form.
type File struct {
	TraceEvents     []Event        `json:"traceEvents"`
	DisplayTimeUnit string         `json:"displayTimeUnit"`
	OtherData       map[string]any `json:"otherData,omitempty"`
}

// Event is one trace event. Which fields it carries depends on its phase
// (Ph): X complete slices have Dur, i instants have S, s and f flow events
// have ID (and f has BP), M metadata events name processes and threads.
type Event struct {
	Name string `json:"name"`
	Cat  string `json:"cat,omitempty"`
	Ph   string `json:"ph"`
	// TS is the event's time in microseconds since the call began.
	TS  Micros  `json:"ts"`
	Dur *Micros `json:"dur,omitempty"`
	PID int     `json:"pid"`
	TID int     `json:"tid"`
	// S is an instant's scope: "t" for its thread.
	S string `json:"s,omitempty"`
	// ID ties a flow's start to its finish.
	ID string `json:"id,omitempty"`
	// BP "e" binds a flow's finish to the slice enclosing it.
	BP   string         `json:"bp,omitempty"`
	Args map[string]any `json:"args,omitempty"`
}

// Micros is a time in whole microseconds, the format's unit. Whole numbers
// keep a slice's end (ts + dur) exact, so that a flow at a slice's last
// moment is inside it in every viewer.
type Micros int64

func micros(d time.Duration) Micros { return Micros(d.Round(time.Microsecond) / time.Microsecond) }

// ms converts a time to milliseconds as the trace's microseconds give it,
// so that an arg such as waited_ms agrees with the slice's dur.
func ms(d time.Duration) float64 { return float64(micros(d)) / 1000 }

// msBetween is the milliseconds from start to end, as the difference of
// their microseconds in the trace.
func msBetween(start, end time.Duration) float64 { return float64(micros(end)-micros(start)) / 1000 }

// Track kinds, in the order they are shown within a side's process. A
// track's thread id is its kind times a hundred plus its lane (a call has
// far fewer than a hundred messages), so that a track
// split in two keeps its place.
const (
	trackTalking   = 1
	trackWaiting   = 2
	trackSending   = 3
	trackReceiving = 4
	trackListening = 5
	// trackLink is the direction of the link that carries the side's
	// bytes: link up on the grandchild's process, link down on grandma's.
	trackLink = 6
)

var trackNames = map[int]string{
	trackTalking:   "talking",
	trackWaiting:   "waiting to talk",
	trackSending:   "sending",
	trackReceiving: "receiving",
	trackListening: "listening",
}

// linkTrackName names the track of the link's direction that carries
// side's bytes.
func linkTrackName(side timeline.Side) string {
	if side == timeline.Server {
		return "link down"
	}
	return "link up"
}

// Categories, for filtering in the viewers.
const (
	catState   = "state"
	catMessage = "message"
	catMoment  = "moment"
	catFlow    = "flow"
	catLink    = "link"
)

// Build turns calls into a trace: one pair of processes per call, in the
// order given.
func Build(calls ...*result.Result) *File {
	f := &File{DisplayTimeUnit: "ms", OtherData: map[string]any{"generator": "duplexdemo"}}
	var modes []string
	var meta, events []Event
	for i, res := range calls {
		modes = append(modes, res.Mode.Key)
		b := &builder{res: res, pidBase: 2 * i, flowPrefix: fmt.Sprintf("%s-%d-", res.Mode.Key, i)}
		b.build()
		meta = append(meta, b.meta...)
		if events == nil {
			events = b.events
		} else {
			events = append(events, b.events...)
		}
	}
	f.OtherData["modes"] = strings.Join(modes, ",")
	if len(calls) > 0 {
		f.OtherData["latency_ms"] = ms(calls[0].Latency)
		if a := calls[0].Alignment; a != nil {
			f.OtherData["server"] = calls[0].Server
			f.OtherData["clock_uncertainty_ms"] = ms(a.Uncertainty)
		}
	}
	// Viewers sort by time anyway; sorting here, stably, keeps the order
	// the builder chose for events at the same moment (a slice before the
	// flow that starts in it).
	// Sorting the events' indices, by time and then by index, is a stable
	// sort that moves small numbers rather than whole events.
	order := make([]int32, len(events))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		switch ta, tb := events[a].TS, events[b].TS; {
		case ta < tb:
			return -1
		case ta > tb:
			return 1
		}
		return int(a - b)
	})
	slices.SortStableFunc(meta, func(a, b Event) int {
		if a.PID != b.PID {
			return a.PID - b.PID
		}
		return a.TID - b.TID
	})
	f.TraceEvents = slices.Grow(meta, len(events))
	for _, i := range order {
		f.TraceEvents = append(f.TraceEvents, events[i])
	}
	return f
}

// Write writes the calls' trace to w as JSON, one event per line.
func Write(w io.Writer, calls ...*result.Result) error {
	f := Build(calls...)
	var b bytes.Buffer
	b.Grow(192 * len(f.TraceEvents)) // about what an event takes, with its args
	b.WriteString("{\"displayTimeUnit\":")
	if err := appendJSON(&b, f.DisplayTimeUnit); err != nil {
		return err
	}
	b.WriteString(",\"otherData\":")
	if err := appendJSON(&b, f.OtherData); err != nil {
		return err
	}
	b.WriteString(",\"traceEvents\":[")
	for i, e := range f.TraceEvents {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n")
		if err := appendJSON(&b, e); err != nil {
			return err
		}
	}
	b.WriteString("\n]}\n")
	_, err := w.Write(b.Bytes())
	return err
}

func appendJSON(b *bytes.Buffer, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b.Write(data)
	return nil
}

// builder lays out one call.
type builder struct {
	res        *result.Result
	pidBase    int
	flowPrefix string
	meta       []Event
	events     []Event
	// lanes holds, per side and track kind, the slices already placed on
	// each lane.
	lanes map[[2]int][]*lane
	// strict lanes take only slices that do not touch (message slices, so
	// that a flow binds to the right one); the others also take slices
	// nested in one another.
	named map[[2]int]bool
}

type interval struct{ start, end time.Duration }

func (b *builder) pid(side timeline.Side) int { return b.pidBase + int(side) + 1 }

func sideName(side timeline.Side) string {
	if side == timeline.Server {
		return "grandma (server)"
	}
	return "grandchild (client)"
}

func (b *builder) build() {
	b.lanes = map[[2]int][]*lane{}
	b.named = map[[2]int]bool{}
	tl := b.res.Timeline
	for _, side := range []timeline.Side{timeline.Client, timeline.Server} {
		pid := b.pid(side)
		b.meta = append(b.meta,
			Event{Name: "process_name", Ph: "M", PID: pid, Args: map[string]any{"name": fmt.Sprintf("%s: %s", b.res.Mode.Key, sideName(side))}},
			Event{Name: "process_sort_index", Ph: "M", PID: pid, Args: map[string]any{"sort_index": pid}},
			Event{Name: "process_labels", Ph: "M", PID: pid, Args: map[string]any{"labels": b.res.Mode.Transport}},
		)
	}
	spans := tl.Spans()
	// Each span is a slice; each message an instant, and if heard two
	// slices, two flow ends and an instant; each time the link was busy a
	// slice.
	b.events = make([]Event, 0, len(spans)+6*len(tl.Messages)+len(b.res.BusySpans))
	for _, s := range spans {
		switch s.State {
		case timeline.Talking:
			b.slice(s.Side, trackTalking, false, "talking: "+s.Label, catState, s.Start, s.End, map[string]any{"label": s.Label})
		case timeline.Listening:
			b.slice(s.Side, trackListening, false, "listening: "+s.Label, catState, s.Start, s.End, map[string]any{"label": s.Label})
		case timeline.Waiting:
			b.slice(s.Side, trackWaiting, false, fmt.Sprintf("waiting to say the %s", s.Label), catState, s.Start, s.End, map[string]any{
				"label": s.Label, "why": s.Reason, "waited_ms": msBetween(s.Start, s.End),
			})
		}
	}
	utterances := tl.Utterances()
	names := make(map[timeline.MsgID]string, len(tl.Messages))
	for _, u := range utterances {
		for i, m := range u.Messages {
			names[m.ID] = u.PartName(i)
		}
	}
	for _, m := range tl.Messages {
		name, ok := names[m.ID]
		if !ok {
			name = m.Label // never sent
		}
		b.instant(m.From, trackTalking, "wants to say: "+name, m.WantedAt, map[string]any{"text": m.Text})
	}
	flow := 0
	for _, u := range utterances {
		for i, m := range u.Messages {
			if !m.Heard {
				continue
			}
			name := u.PartName(i)
			args := map[string]any{
				"text": m.Text, "sent_ms": ms(m.SentAt), "heard_ms": ms(m.HeardAt),
				"in_flight_ms": msBetween(m.SentAt, m.HeardAt), "waited_ms": msBetween(m.WantedAt, m.SentAt),
			}
			id := fmt.Sprintf("%s%d", b.flowPrefix, flow)
			flow++
			sendTID := b.slice(m.From, trackSending, true, "→ "+name, catMessage, m.SentAt, m.HeardAt, args)
			b.events = append(b.events, Event{Name: name, Cat: catFlow, Ph: "s", TS: micros(m.SentAt), PID: b.pid(m.From), TID: sendTID, ID: id})
			recvTID := b.slice(m.From.Peer(), trackReceiving, true, "← "+name, catMessage, m.SentAt, m.HeardAt, args)
			b.events = append(b.events, Event{Name: name, Cat: catFlow, Ph: "f", BP: "e", TS: micros(m.HeardAt), PID: b.pid(m.From.Peer()), TID: recvTID, ID: id})
			b.instant(m.From.Peer(), trackListening, "heard: "+name, m.HeardAt, map[string]any{"text": m.Text})
		}
	}
	// The link's busy times, on a link with a bandwidth, each on the track
	// of its direction in the process of the side whose bytes it carried.
	for _, s := range b.res.BusySpans {
		b.slice(s.From, trackLink, false, "busy", catLink, s.Start, s.End, map[string]any{
			"from": s.From.String(), "busy_ms": msBetween(s.Start, s.End),
		})
	}
}

// slice places an X event on the first lane of the side's track where it
// fits, and returns that lane's thread id.
func (b *builder) slice(side timeline.Side, track int, strict bool, name, cat string, start, end time.Duration, args map[string]any) int {
	tid := b.lane(side, track, strict, interval{start, end})
	dur := micros(end) - micros(start)
	b.events = append(b.events, Event{Name: name, Cat: cat, Ph: "X", TS: micros(start), Dur: &dur, PID: b.pid(side), TID: tid, Args: args})
	return tid
}

// instant adds an i event on the side's track, on its first lane: an
// instant takes no time, so it cannot overlap anything.
func (b *builder) instant(side timeline.Side, track int, name string, at time.Duration, args map[string]any) {
	tid := b.lane(side, track, false, interval{at, at})
	b.events = append(b.events, Event{Name: name, Cat: catMoment, Ph: "i", S: "t", TS: micros(at), PID: b.pid(side), TID: tid, Args: args})
}

// lane finds or opens the lane for iv and returns its thread id. A lane
// takes iv if iv overlaps none of its slices, or, unless strict, lies
// within or around each one it overlaps.
func (b *builder) lane(side timeline.Side, track int, strict bool, iv interval) int {
	key := [2]int{int(side), track}
	lanes := b.lanes[key]
	n := len(lanes)
	if !strict && iv.start == iv.end {
		// A moment, or a slice that takes no time, is disjoint from or
		// within every slice, and every slice is disjoint from or around
		// it: it goes on the first lane and never keeps another off one.
		n = 0
		if len(lanes) == 0 {
			b.lanes[key] = append(lanes, &lane{})
		}
	} else {
		for i, l := range lanes {
			if l.fits(iv, strict) {
				l.add(iv, strict)
				n = i
				break
			}
		}
		if n == len(lanes) {
			l := &lane{}
			l.add(iv, strict)
			b.lanes[key] = append(lanes, l)
		}
	}
	tid := track*100 + n
	if !b.named[[2]int{int(side), tid}] {
		b.named[[2]int{int(side), tid}] = true
		name := trackNames[track]
		if track == trackLink {
			name = linkTrackName(side)
		}
		if n > 0 {
			name = fmt.Sprintf("%s (%d)", name, n+1)
		}
		b.meta = append(b.meta,
			Event{Name: "thread_name", Ph: "M", PID: b.pid(side), TID: tid, Args: map[string]any{"name": name}},
			Event{Name: "thread_sort_index", Ph: "M", PID: b.pid(side), TID: tid, Args: map[string]any{"sort_index": tid}},
		)
	}
	return tid
}

// lane is the slices placed on one lane of a track, kept so that whether
// another fits takes time logarithmic in their number, not linear.
//
// A strict lane's slices neither overlap nor touch, so ordered by start they
// are also ordered by end: they are kept in order, in runs of at most
// runSize, and a slice fits if the first one ending at or after its start
// begins after its end.
//
// The other lanes' slices come in the order they start (Spans gives them so).
// A slice [s, e] placed after those fits unless one began before s and ends
// strictly between s and e; one that ended by s can never again keep a
// later slice off the lane. So the lane keeps a heap of the ends of the
// slices that began before the latest start, and apart the ones that began
// at it. Should a slice ever come out of order, the lane falls back to
// comparing it with every slice placed, in all.
type lane struct {
	// runs are a strict lane's slices, in order.
	runs [][]interval

	// all are a lane's other slices, as placed.
	all []interval
	// latest is the latest start placed; atLatest are the ends of the
	// slices that began at it, ends those of the ones before it that had
	// not ended by it.
	latest   time.Duration
	atLatest []time.Duration
	ends     endHeap
	unsorted bool
}

const runSize = 256

func (l *lane) fits(iv interval, strict bool) bool {
	if strict {
		r, i := l.firstEndingFrom(iv.start)
		return r == len(l.runs) || l.runs[r][i].start > iv.end
	}
	if l.unsorted || (len(l.all) > 0 && iv.start < l.latest) {
		return fitsAll(l.all, iv)
	}
	if iv.start > l.latest {
		for _, e := range l.atLatest {
			l.ends.push(e)
		}
		l.atLatest = l.atLatest[:0]
		l.latest = iv.start
	}
	for len(l.ends) > 0 && l.ends[0] <= iv.start {
		l.ends.pop()
	}
	return len(l.ends) == 0 || l.ends[0] >= iv.end
}

func (l *lane) add(iv interval, strict bool) {
	if strict {
		r, i := l.firstEndingFrom(iv.start)
		switch {
		case len(l.runs) == 0:
			l.runs = append(l.runs, []interval{iv})
			return
		case r == len(l.runs):
			r, i = r-1, len(l.runs[r-1])
		}
		l.runs[r] = slices.Insert(l.runs[r], i, iv)
		if len(l.runs[r]) > runSize {
			half := len(l.runs[r]) / 2
			tail := slices.Clone(l.runs[r][half:])
			l.runs[r] = l.runs[r][:half:half]
			l.runs = slices.Insert(l.runs, r+1, tail)
		}
		return
	}
	if len(l.all) > 0 && iv.start < l.latest {
		l.unsorted = true
	}
	l.all = append(l.all, iv)
	if l.unsorted {
		return
	}
	if iv.start > l.latest || len(l.all) == 1 {
		for _, e := range l.atLatest {
			l.ends.push(e)
		}
		l.atLatest = l.atLatest[:0]
		l.latest = iv.start
	}
	l.atLatest = append(l.atLatest, iv.end)
}

// firstEndingFrom returns the run and index of a strict lane's first slice
// that ends at or after t, or len(l.runs) if none does.
func (l *lane) firstEndingFrom(t time.Duration) (int, int) {
	r, _ := slices.BinarySearchFunc(l.runs, t, func(run []interval, t time.Duration) int {
		return compare(run[len(run)-1].end, t)
	})
	if r == len(l.runs) {
		return r, 0
	}
	i, _ := slices.BinarySearchFunc(l.runs[r], t, func(p interval, t time.Duration) int { return compare(p.end, t) })
	return r, i
}

func compare(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// fitsAll reports whether iv lies around, within or apart from each of
// placed.
func fitsAll(placed []interval, iv interval) bool {
	for _, p := range placed {
		disjoint := iv.start >= p.end || iv.end <= p.start
		nested := (iv.start >= p.start && iv.end <= p.end) || (p.start >= iv.start && p.end <= iv.end)
		if !disjoint && !nested {
			return false
		}
	}
	return true
}

// endHeap is a min-heap of times.
type endHeap []time.Duration

func (h *endHeap) push(t time.Duration) {
	*h = append(*h, t)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p] <= s[i] {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *endHeap) pop() {
	s := *h
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	for i := 0; ; {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && s[c+1] < s[c] {
			c++
		}
		if s[i] <= s[c] {
			break
		}
		s[i], s[c] = s[c], s[i]
		i = c
	}
	*h = s
}
