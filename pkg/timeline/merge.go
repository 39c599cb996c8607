package timeline

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Alignment places one side's clock on the other's: a time t on the
// server's clock is t + Offset on the client's, give or take Uncertainty.
type Alignment struct {
	Offset      time.Duration
	Uncertainty time.Duration
}

// Align estimates where the server's clock stands on the client's from the
// call's own lines, as NTP does from its round trips. A line the client
// sent and the server heard was heard after it was sent, so the offset is
// at least (client sent − server heard); a line the server sent and the
// client heard gives an upper bound, (client heard − server sent). The
// offset is the middle of the tightest bounds, and the uncertainty half
// their gap: about half a round trip of the link. A line heard is matched
// with the line sent with its text (the n-th hearing with the n-th
// sending), as lines on different connections may arrive out of order. It
// needs at least one line heard each way.
func Align(client, server *Timeline) (Alignment, error) {
	sent := func(tl *Timeline, from Side) []Message {
		var out []Message
		for _, m := range tl.sentInOrder() {
			if m.From == from {
				out = append(out, m)
			}
		}
		return out
	}
	heard := func(tl *Timeline, from Side) []Message {
		var out []Message
		for _, m := range tl.Messages {
			if m.From == from && m.Heard && !m.Sent {
				out = append(out, m)
			}
		}
		slices.SortStableFunc(out, func(a, b Message) int { return compareDurations(a.HeardAt, b.HeardAt) })
		return out
	}
	var lo, hi time.Duration
	var haveLo, haveHi bool
	for _, p := range pairByText(sent(client, Client), heard(server, Client)) {
		if b := p.sent.SentAt - p.heard.HeardAt; !haveLo || b > lo {
			lo, haveLo = b, true
		}
	}
	for _, p := range pairByText(sent(server, Server), heard(client, Server)) {
		if b := p.heard.HeardAt - p.sent.SentAt; !haveHi || b < hi {
			hi, haveHi = b, true
		}
	}
	if !haveLo || !haveHi {
		return Alignment{}, errors.New("the clocks cannot be aligned: no line was heard each way")
	}
	if lo > hi {
		// The bounds cross only if a clock jumped during the call.
		lo, hi = hi, lo
	}
	return Alignment{Offset: lo + (hi-lo)/2, Uncertainty: (hi - lo + 1) / 2}, nil
}

// Merge joins the timelines of a call's two sides, each recorded on its own
// clock by a recorder from NewSideRecorder, into one timeline on the
// client's clock: the server's events move by a.Offset. Each line heard on
// one side is matched with the line the other side sent with its text (the
// n-th hearing of a text with its n-th sending), in whatever order they
// arrived. The result is what a shared
// recorder would have recorded, but for the alignment's uncertainty.
func Merge(client, server *Timeline, a Alignment) (*Timeline, error) {
	type key struct {
		side Side // whose timeline
		id   MsgID
	}
	tls := [2]*Timeline{Client: client, Server: server}
	shift := [2]time.Duration{Client: 0, Server: a.Offset}

	// Every line either side sent, from its sender's timeline, in the order
	// it was wanted, then matched with its hearing on the other timeline.
	var msgs []Message
	newID := map[key]MsgID{}
	type wanted struct {
		m    Message
		side Side
	}
	var all []wanted
	for _, side := range []Side{Client, Server} {
		for _, m := range tls[side].Messages {
			if m.From == side {
				m.WantedAt += shift[side]
				if m.Sent {
					m.SentAt += shift[side]
				}
				all = append(all, wanted{m, side})
			}
		}
	}
	slices.SortStableFunc(all, func(x, y wanted) int { return compareDurations(x.m.WantedAt, y.m.WantedAt) })
	for _, w := range all {
		id := MsgID(len(msgs))
		newID[key{w.side, w.m.ID}] = id
		w.m.ID = id
		msgs = append(msgs, w.m)
	}
	for _, hearer := range []Side{Client, Server} {
		from := hearer.Peer()
		// The merged ids of from's sent lines, by text, in send order: the
		// n-th hearing of a text is its n-th sending. Lines on different
		// connections (a browser's walkie) may arrive in another order
		// than they were sent.
		sentAs := map[string][]MsgID{}
		for _, m := range tls[from].sentInOrder() {
			if m.From == from {
				sentAs[m.Text] = append(sentAs[m.Text], newID[key{from, m.ID}])
			}
		}
		for _, m := range tls[hearer].Messages {
			if m.From != from || !m.Heard {
				continue
			}
			ids := sentAs[m.Text]
			if len(ids) == 0 {
				return nil, fmt.Errorf("the %s heard %q, which the %s had not sent (or not as often)", hearer, m.Text, from)
			}
			sentAs[m.Text] = ids[1:]
			target := &msgs[ids[0]]
			target.Heard, target.HeardAt = true, m.HeardAt+shift[hearer]
			newID[key{hearer, m.ID}] = ids[0]
		}
	}

	var events []Event
	for _, side := range []Side{Client, Server} {
		for _, e := range tls[side].Events {
			e.At += shift[side]
			if e.Msg != NoMsg {
				id, ok := newID[key{side, e.Msg}]
				if !ok {
					return nil, fmt.Errorf("the %s's event %q names message %d, which it never recorded", side, e.Kind, e.Msg)
				}
				e.Msg = id
			}
			events = append(events, e)
		}
	}
	slices.SortStableFunc(events, func(x, y Event) int { return compareDurations(x.At, y.At) })
	return &Timeline{
		Duration: max(client.Duration, server.Duration+a.Offset),
		Events:   events,
		Messages: msgs,
	}, nil
}

// sentHeard is a line one side sent, and its hearing on the other side.
type sentHeard struct{ sent, heard Message }

// pairByText pairs each line heard with the line sent with its text: the
// n-th hearing of a text with its n-th sending. sent is in send order.
func pairByText(sent, heard []Message) []sentHeard {
	byText := map[string][]Message{}
	for _, m := range sent {
		byText[m.Text] = append(byText[m.Text], m)
	}
	var out []sentHeard
	for _, h := range heard {
		if q := byText[h.Text]; len(q) > 0 {
			out = append(out, sentHeard{q[0], h})
			byText[h.Text] = q[1:]
		}
	}
	return out
}
