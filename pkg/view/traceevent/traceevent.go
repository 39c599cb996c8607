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
//     instant where it heard each line.
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
)

var trackNames = map[int]string{
	trackTalking:   "talking",
	trackWaiting:   "waiting to talk",
	trackSending:   "sending",
	trackReceiving: "receiving",
	trackListening: "listening",
}

// Categories, for filtering in the viewers.
const (
	catState   = "state"
	catMessage = "message"
	catMoment  = "moment"
	catFlow    = "flow"
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
		events = append(events, b.events...)
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
	slices.SortStableFunc(events, func(a, b Event) int {
		switch {
		case a.TS < b.TS:
			return -1
		case a.TS > b.TS:
			return 1
		}
		return 0
	})
	slices.SortStableFunc(meta, func(a, b Event) int {
		if a.PID != b.PID {
			return a.PID - b.PID
		}
		return a.TID - b.TID
	})
	f.TraceEvents = append(meta, events...)
	return f
}

// Write writes the calls' trace to w as JSON, one event per line.
func Write(w io.Writer, calls ...*result.Result) error {
	f := Build(calls...)
	var b bytes.Buffer
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
	lanes map[[2]int][][]interval
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
	b.lanes = map[[2]int][][]interval{}
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
	for _, s := range tl.Spans() {
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
	names := make(map[timeline.MsgID]string, len(tl.Messages))
	for _, u := range tl.Utterances() {
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
	for _, u := range tl.Utterances() {
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
	for i, placed := range lanes {
		if fits(placed, iv, strict) {
			lanes[i] = append(placed, iv)
			n = i
			break
		}
	}
	if n == len(lanes) {
		lanes = append(lanes, []interval{iv})
		b.lanes[key] = lanes
	}
	tid := track*100 + n
	if !b.named[[2]int{int(side), tid}] {
		b.named[[2]int{int(side), tid}] = true
		name := trackNames[track]
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

func fits(placed []interval, iv interval, strict bool) bool {
	for _, p := range placed {
		if strict {
			if iv.start <= p.end && p.start <= iv.end {
				return false
			}
			continue
		}
		disjoint := iv.start >= p.end || iv.end <= p.start
		nested := (iv.start >= p.start && iv.end <= p.end) || (p.start >= iv.start && p.end <= iv.end)
		if !disjoint && !nested {
			return false
		}
	}
	return true
}
