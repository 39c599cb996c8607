package timeline_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// lines is a tiny script for the merge tests: any text is a line, labelled
// by its first word.
func lines(text string) (string, bool) {
	for i, r := range text {
		if r == ' ' {
			return text[:i], true
		}
	}
	return text, text != ""
}

// splitCall plays a call between two recorders on clocks that differ:
// the server's starts skew later, and each line takes latency to arrive.
// ops picks, one byte at a time, what happens next.
func splitCall(t *testing.T, skew, latency time.Duration, ops []byte) (client, server *timeline.Timeline, said int) {
	synctest.Test(t, func(t *testing.T) {
		c := timeline.NewSideRecorder(timeline.Client, lines, nil)
		time.Sleep(skew)
		s := timeline.NewSideRecorder(timeline.Server, lines, nil)
		recs := [2]*timeline.Recorder{timeline.Client: c, timeline.Server: s}
		var inFlight [2][]string // per sender, sent and not yet heard
		n := 0
		for _, op := range ops {
			side := timeline.Side(op & 1)
			switch op >> 1 % 4 {
			case 0, 1: // side says a line, which arrives a latency later
				text := side.String() + " line " + string(rune('a'+n%26))
				n++
				id := recs[side].Want(side, side.String(), text, "busy")
				time.Sleep(time.Duration(op>>3) * time.Millisecond)
				recs[side].Sent(id)
				inFlight[side] = append(inFlight[side], text)
				said++
			case 2: // the peer hears side's oldest line in flight
				if len(inFlight[side]) == 0 {
					continue
				}
				time.Sleep(latency)
				if _, err := recs[side.Peer()].Heard(side, inFlight[side][0]); err != nil {
					t.Fatal(err)
				}
				inFlight[side] = inFlight[side][1:]
			case 3:
				time.Sleep(time.Duration(op) * time.Millisecond)
			}
		}
		client, server = c.Finish(), s.Finish()
	})
	return client, server, said
}

// TestAlign: the clocks are aligned to within half a round trip of the
// truth, and the truth is within the uncertainty.
func TestAlign(t *testing.T) {
	// question, story, interruption, answer: each sent, then heard.
	ops := []byte{0, 4, 1, 5, 2 << 1, 3 << 1, 2<<1 | 1, 2<<1 | 1}
	skew, latency := 37*time.Millisecond, 20*time.Millisecond
	client, server, _ := splitCall(t, skew, latency, ops)
	a, err := timeline.Align(client, server)
	if err != nil {
		t.Fatal(err)
	}
	if d := a.Offset - skew; d < -a.Uncertainty || d > a.Uncertainty {
		t.Errorf("offset %v ± %v, but the server's clock started %v later", a.Offset, a.Uncertainty, skew)
	}
	if a.Uncertainty > 2*latency {
		t.Errorf("uncertainty %v, more than a round trip (%v)", a.Uncertainty, 2*latency)
	}
	merged, err := timeline.Merge(client, server, a)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range merged.Messages {
		if !m.Sent || !m.Heard || m.HeardAt < m.SentAt {
			t.Errorf("merged line %+v: want sent, then heard", m)
		}
	}
}

func TestAlignNeedsBothWays(t *testing.T) {
	client, server, _ := splitCall(t, 0, time.Millisecond, []byte{0, 0, 2 << 1})
	if _, err := timeline.Align(client, server); err == nil {
		t.Error("aligned with lines heard one way only")
	}
}

// FuzzMerge plays calls of any shape on two clocks and merges them: never a
// panic; each line either side sent appears once; each line heard is
// matched with one sent; and with the alignment Align gives, nothing is
// heard before it was sent.
func FuzzMerge(f *testing.F) {
	f.Add([]byte{0, 4, 1, 5, 4, 6, 5, 5}, uint8(30), uint8(20))
	f.Add([]byte{1, 1, 1, 5, 5, 5, 0, 4}, uint8(0), uint8(0))
	f.Add([]byte{7, 0, 255, 4, 3, 5}, uint8(200), uint8(1))
	f.Fuzz(func(t *testing.T, ops []byte, skew, latency uint8) {
		if len(ops) > 64 {
			ops = ops[:64]
		}
		client, server, said := splitCall(t, time.Duration(skew)*time.Millisecond, time.Duration(latency)*time.Millisecond, ops)
		a, err := timeline.Align(client, server)
		if err != nil {
			a = timeline.Alignment{}
		}
		merged, err := timeline.Merge(client, server, a)
		if err != nil {
			t.Fatalf("merging two halves of one call: %v", err)
		}
		if len(merged.Messages) != said {
			t.Fatalf("%d lines merged, %d said", len(merged.Messages), said)
		}
		for i, m := range merged.Messages {
			if int(m.ID) != i || !m.Sent {
				t.Fatalf("merged line %d: %+v", i, m)
			}
			if a.Uncertainty > 0 && m.Heard && m.HeardAt < m.SentAt {
				t.Fatalf("line %q heard at %v, before it was sent at %v (offset %v ± %v)", m.Text, m.HeardAt, m.SentAt, a.Offset, a.Uncertainty)
			}
		}
		for i := 1; i < len(merged.Events); i++ {
			if merged.Events[i].At < merged.Events[i-1].At {
				t.Fatal("merged events out of order")
			}
		}
	})
}

// TestMergeOutOfOrder: lines that arrive in another order than they were
// sent (a browser's walkie, on two connections) are each matched with
// their own sending, by text, and the clocks are aligned from the true
// pairs.
func TestMergeOutOfOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := timeline.NewSideRecorder(timeline.Client, lines, nil)
		s := timeline.NewSideRecorder(timeline.Server, lines, nil) // the same clock: offset 0
		q := c.Want(timeline.Client, "question", "question please", "")
		c.Sent(q)
		time.Sleep(10 * time.Millisecond)
		if _, err := s.Heard(timeline.Client, "question please"); err != nil {
			t.Fatal(err)
		}
		first := s.Want(timeline.Server, "story", "story first", "")
		s.Sent(first)
		second := s.Want(timeline.Server, "answer", "answer second", "")
		s.Sent(second)
		time.Sleep(10 * time.Millisecond)
		if _, err := c.Heard(timeline.Server, "answer second"); err != nil { // overtook the first
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond)
		if _, err := c.Heard(timeline.Server, "story first"); err != nil {
			t.Fatal(err)
		}
		client, server := c.Finish(), s.Finish()
		a, err := timeline.Align(client, server)
		if err != nil {
			t.Fatal(err)
		}
		if a.Offset < -10*time.Millisecond || a.Offset > 10*time.Millisecond {
			t.Errorf("offset %v, want within the 10 ms each way of the true 0", a.Offset)
		}
		merged, err := timeline.Merge(client, server, a)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []struct {
			label string
			after time.Duration
		}{{"story", 40 * time.Millisecond}, {"answer", 10 * time.Millisecond}} {
			m, ok := merged.Message(want.label)
			if !ok || !m.Heard || m.HeardAt-m.SentAt != want.after {
				t.Errorf("%s: %+v; want heard %v after it was sent", want.label, m, want.after)
			}
		}
	})
}
