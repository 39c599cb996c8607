package timeline

import (
	"fmt"
	"slices"
	"time"
)

// Timeline is everything one call recorded.
type Timeline struct {
	// Duration is the time from the recorder's start to Finish.
	Duration time.Duration
	// Events are in timestamp order.
	Events []Event
	// Messages are in the order their senders wanted to say them.
	Messages []Message
}

// State is what a side is doing during a Span.
type State uint8

const (
	// Idle: neither talking, listening nor waiting.
	Idle State = iota
	// Listening: from the first to the last heard part of an utterance.
	Listening
	// Waiting: wanting to speak while the channel does not let the message go.
	Waiting
	// Talking: from the first to the last sent part of an utterance.
	Talking
)

// String returns the state's name as used in JSON: idle, listening,
// waiting or talking.
func (s State) String() string {
	switch s {
	case Listening:
		return "listening"
	case Waiting:
		return "waiting"
	case Talking:
		return "talking"
	}
	return "idle"
}

// Span is a stretch of time in which a side was in one state. A side can be
// in several states at once (a grandchild listens to a story while waiting
// to interrupt it); idle spans cover the time it was in none.
type Span struct {
	Side       Side
	State      State
	Start, End time.Duration
	// Label names the utterance a Talking or Listening span is about, or the
	// message a Waiting span waited to say; idle spans have none.
	Label string
	// Reason says why a Waiting span waited.
	Reason string
}

// Message returns the first message with the given label, and whether there
// was one.
func (t *Timeline) Message(label string) (Message, bool) {
	for _, m := range t.Messages {
		if m.Label == label {
			return m, true
		}
	}
	return Message{}, false
}

// Utterance is everything one side said under one label, such as a story
// told sentence by sentence: it lasts from its first part to its last, even
// when the side says something else in between (an answer to an
// interruption, mid-story).
type Utterance struct {
	From     Side
	Label    string
	Messages []Message
}

// Utterances groups the sent messages into utterances, in the order they
// were first sent.
func (t *Timeline) Utterances() []Utterance {
	var out []Utterance
	index := make(map[[2]string]int) // side and label to index in out
	for _, m := range t.sentInOrder() {
		key := [2]string{m.From.String(), m.Label}
		if i, ok := index[key]; ok {
			out[i].Messages = append(out[i].Messages, m)
			continue
		}
		index[key] = len(out)
		out = append(out, Utterance{From: m.From, Label: m.Label, Messages: []Message{m}})
	}
	return out
}

// sentInOrder returns the sent messages in the order they were sent.
func (t *Timeline) sentInOrder() []Message {
	sent := make([]Message, 0, len(t.Messages))
	for _, m := range t.Messages {
		if m.Sent {
			sent = append(sent, m)
		}
	}
	slices.SortStableFunc(sent, func(a, b Message) int { return compareDurations(a.SentAt, b.SentAt) })
	return sent
}

func compareDurations(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Spans derives, for each side, its talking, listening and waiting spans
// and the idle spans between them, ordered by side, then start, then state.
// Waits shorter than Resolution are left out.
func (t *Timeline) Spans() []Span {
	var spans []Span
	for _, u := range t.Utterances() {
		first, last := u.Messages[0], u.Messages[len(u.Messages)-1]
		spans = append(spans, Span{Side: u.From, State: Talking, Start: first.SentAt, End: last.SentAt, Label: u.Label})
		var heard []Message
		for _, m := range u.Messages {
			if m.Heard {
				heard = append(heard, m)
			}
		}
		if len(heard) > 0 {
			spans = append(spans, Span{Side: u.From.Peer(), State: Listening, Start: heard[0].HeardAt, End: heard[len(heard)-1].HeardAt, Label: u.Label})
		}
	}
	for _, m := range t.Messages {
		if m.Sent && m.Waited() >= Resolution {
			spans = append(spans, Span{Side: m.From, State: Waiting, Start: m.WantedAt, End: m.SentAt, Label: m.Label, Reason: m.Reason})
		}
	}
	for _, side := range []Side{Client, Server} {
		var busy []interval
		for _, s := range spans {
			if s.Side == side {
				busy = append(busy, interval{s.Start, s.End})
			}
		}
		for _, gap := range complement(union(busy), t.Duration) {
			spans = append(spans, Span{Side: side, State: Idle, Start: gap.start, End: gap.end})
		}
	}
	slices.SortStableFunc(spans, func(a, b Span) int {
		if a.Side != b.Side {
			return int(a.Side) - int(b.Side)
		}
		if c := compareDurations(a.Start, b.Start); c != 0 {
			return c
		}
		return int(b.State) - int(a.State)
	})
	return spans
}

// TimeIn returns the total time side spent in state: the length of the union
// of its spans in that state.
func TimeIn(spans []Span, side Side, state State) time.Duration {
	var ivs []interval
	for _, s := range spans {
		if s.Side == side && s.State == state {
			ivs = append(ivs, interval{s.Start, s.End})
		}
	}
	return length(union(ivs))
}

// Overlap returns the total time bytes of both directions were on the link
// at once. A line is on the link from the moment it is sent (its first
// byte is about to be written) until the moment it is heard (its last byte
// has been read), or, if it never was, the end of the call; each line
// counts on its own, so a story told sentence by sentence is on the link
// only while each sentence travels, not for the whole story. On a channel
// that carries one direction at a time this is 0.
// Overlaps shorter than Resolution are left out: an application takes a
// few microseconds to hear what its transport already has, and that is not
// two people talking at once.
func (t *Timeline) Overlap() time.Duration {
	var dir [2][]interval
	for _, m := range t.Messages {
		if !m.Sent {
			continue
		}
		end := t.Duration
		if m.Heard {
			end = m.HeardAt
		}
		dir[m.From] = append(dir[m.From], interval{m.SentAt, end})
	}
	var d time.Duration
	for _, iv := range intersect(union(dir[Client]), union(dir[Server])) {
		if iv.end-iv.start >= Resolution {
			d += iv.end - iv.start
		}
	}
	return d
}

type interval struct{ start, end time.Duration }

// union merges intervals into sorted, disjoint ones.
func union(ivs []interval) []interval {
	ivs = slices.Clone(ivs)
	slices.SortFunc(ivs, func(a, b interval) int { return compareDurations(a.start, b.start) })
	var out []interval
	for _, iv := range ivs {
		if n := len(out); n > 0 && iv.start <= out[n-1].end {
			out[n-1].end = max(out[n-1].end, iv.end)
			continue
		}
		out = append(out, iv)
	}
	return out
}

// complement returns the gaps of sorted, disjoint intervals within [0, total).
func complement(ivs []interval, total time.Duration) []interval {
	var out []interval
	at := time.Duration(0)
	for _, iv := range ivs {
		if iv.start > at {
			out = append(out, interval{at, iv.start})
		}
		at = max(at, iv.end)
	}
	if at < total {
		out = append(out, interval{at, total})
	}
	return out
}

// intersect returns the intersection of two sorted, disjoint interval lists.
func intersect(a, b []interval) []interval {
	var out []interval
	for i, j := 0, 0; i < len(a) && j < len(b); {
		start, end := max(a[i].start, b[j].start), min(a[i].end, b[j].end)
		if start < end {
			out = append(out, interval{start, end})
		}
		if a[i].end < b[j].end {
			i++
		} else {
			j++
		}
	}
	return out
}

func length(ivs []interval) time.Duration {
	var d time.Duration
	for _, iv := range ivs {
		d += iv.end - iv.start
	}
	return d
}

// PartName returns how pictures name the i-th message of the utterance
// (counting from 0): its label, followed by "2/5" when the utterance was said
// in several parts.
func (u Utterance) PartName(i int) string {
	if len(u.Messages) < 2 {
		return u.Label
	}
	return fmt.Sprintf("%s %d/%d", u.Label, i+1, len(u.Messages))
}
