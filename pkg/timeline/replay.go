package timeline

import "time"

// Replay rebuilds the timeline of a call from the events an Observer has
// been told of, as it stood at now: every message as far as it had got,
// wanted, sent or heard. A screen draws a call still going on from it;
// once the call is over, it agrees with what Finish returns.
func Replay(events []Event, now time.Duration) *Timeline {
	t := &Timeline{Duration: now, Events: events}
	for _, e := range events {
		if e.Msg == NoMsg || e.Msg < 0 {
			continue
		}
		for int(e.Msg) >= len(t.Messages) {
			t.Messages = append(t.Messages, Message{ID: MsgID(len(t.Messages))})
		}
		m := &t.Messages[e.Msg]
		switch e.Kind {
		case KindWant:
			m.From, m.Label, m.Text, m.Reason, m.WantedAt = e.Side, e.Label, e.Text, e.Reason, e.At
		case KindSend:
			m.Sent, m.SentAt = true, e.At
		case KindHeard:
			if m.Text == "" { // a line from a peer that records elsewhere
				m.From, m.Label, m.Text = e.Side.Peer(), e.Label, e.Text
			}
			m.Heard, m.HeardAt = true, e.At
		}
	}
	return t
}

// Pending returns the waits still going on at the end of t: a Waiting span
// up to Duration for each message wanted Resolution or more before it and
// not yet sent. Spans leaves them out, as a finished call's unsent lines
// never waited for a channel that let them go.
func (t *Timeline) Pending() []Span {
	var spans []Span
	for _, m := range t.Messages {
		if !m.Sent && m.Text != "" && m.WantedAt <= t.Duration-Resolution && !m.Heard {
			spans = append(spans, Span{Side: m.From, State: Waiting, Start: m.WantedAt, End: t.Duration, Label: m.Label, Reason: m.Reason})
		}
	}
	return spans
}
