package mermaid

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// naiveClusters groups the messages by comparing every pair, as the
// diagram did before it swept them in the order they were sent: it returns
// each grouped message's group number.
func naiveClusters(tl *timeline.Timeline) map[timeline.MsgID]int {
	var sent []timeline.Message
	for _, m := range tl.Messages {
		if m.Sent {
			sent = append(sent, m)
		}
	}
	end := func(m timeline.Message) time.Duration {
		if m.Heard {
			return m.HeardAt
		}
		return tl.Duration
	}
	group := map[timeline.MsgID]int{}
	merge := func(a, b timeline.MsgID) {
		ga, oka := group[a]
		gb, okb := group[b]
		switch {
		case !oka && !okb:
			group[a], group[b] = int(a), int(a)
		case !okb:
			group[b] = ga
		case !oka:
			group[a] = gb
		case ga != gb:
			for id, g := range group {
				if g == gb {
					group[id] = ga
				}
			}
		}
	}
	for i, a := range sent {
		for _, b := range sent[i+1:] {
			if a.From != b.From && min(end(a), end(b))-max(a.SentAt, b.SentAt) >= timeline.Resolution {
				merge(a.ID, b.ID)
			}
		}
	}
	return group
}

// TestClustersAsNaive checks the sweep against comparing every pair, on
// random calls with messages in flight both ways.
func TestClustersAsNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 2000 {
		tl := &timeline.Timeline{Duration: 300 * time.Millisecond}
		for i := range 1 + r.IntN(40) {
			sent := time.Duration(r.IntN(250)) * time.Millisecond / 2
			m := timeline.Message{ID: timeline.MsgID(i), From: timeline.Side(r.IntN(2)), Sent: r.IntN(10) > 0, SentAt: sent}
			if r.IntN(10) > 0 {
				m.Heard, m.HeardAt = true, sent+time.Duration(r.IntN(8))*time.Millisecond/2
			}
			tl.Messages = append(tl.Messages, m)
		}
		want := naiveClusters(tl)
		got := clusters(tl)
		if len(got) != len(want) {
			t.Fatalf("round %d: %d messages grouped, want %d", round, len(got), len(want))
		}
		first := map[int]timeline.Side{}
		firstAt := map[int]time.Duration{}
		for _, m := range tl.Messages {
			g, ok := want[m.ID]
			if !ok {
				continue
			}
			if _, ok := got[m.ID]; !ok {
				t.Fatalf("round %d: message %d not grouped", round, m.ID)
			}
			if at, seen := firstAt[g]; !seen || m.SentAt < at {
				first[g], firstAt[g] = m.From, m.SentAt
			}
			for _, o := range tl.Messages {
				if og, ok := want[o.ID]; ok && (og == g) != (got[o.ID] == got[m.ID]) {
					t.Fatalf("round %d: messages %d and %d grouped differently", round, m.ID, o.ID)
				}
			}
		}
		for id, c := range got {
			if c.firstSide != first[want[id]] {
				t.Fatalf("round %d: message %d's block starts with %v, want %v", round, id, c.firstSide, first[want[id]])
			}
		}
	}
}
