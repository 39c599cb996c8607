package timeline

import (
	"testing"
	"testing/synctest"
	"time"
)

const ms = time.Millisecond

// walkieLike records a little half-duplex exchange on the fake clock: a
// question, a two-sentence story, and an interruption that has to wait for
// the story to end.
func walkieLike(t *testing.T) *Timeline {
	t.Helper()
	r := NewRecorder(nil)
	q := r.Want(Client, "question", "q", "connecting")
	r.Sent(q)
	time.Sleep(40 * ms)
	mustHear(t, r, Client, "q")
	s1 := r.Want(Server, "story", "s1", "")
	r.Sent(s1)
	time.Sleep(40 * ms) // 80
	mustHear(t, r, Server, "s1")
	time.Sleep(20 * ms) // 100
	i := r.Want(Client, "interruption", "i", "channel busy")
	time.Sleep(40 * ms) // 140
	s2 := r.Want(Server, "story", "s2", "")
	r.Sent(s2)
	time.Sleep(40 * ms) // 180
	mustHear(t, r, Server, "s2")
	r.Sent(i)
	time.Sleep(40 * ms) // 220
	mustHear(t, r, Client, "i")
	time.Sleep(80 * ms) // 300
	return r.Finish()
}

func mustHear(t *testing.T, r *Recorder, from Side, text string) {
	t.Helper()
	if _, err := r.Heard(from, text); err != nil {
		t.Fatal(err)
	}
}

func TestSpans(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tl := walkieLike(t)
		spans := tl.Spans()
		for _, c := range []struct {
			side  Side
			state State
			want  time.Duration
		}{
			{Client, Talking, 0},          // two instant lines
			{Client, Listening, 100 * ms}, // s1 heard at 80, s2 at 180
			{Client, Waiting, 80 * ms},    // the interruption, 100 to 180
			{Server, Talking, 100 * ms},   // the story, sent at 40 and 140
			{Server, Listening, 0},        // two instant lines
			{Server, Waiting, 0},          // never
		} {
			if got := TimeIn(spans, c.side, c.state); got != c.want {
				t.Errorf("%s %s: got %v, want %v", c.side, c.state, got, c.want)
			}
		}
		// Idle fills exactly the time in no other state.
		for _, side := range []Side{Client, Server} {
			var busy []interval
			for _, s := range spans {
				if s.Side == side && s.State != Idle {
					busy = append(busy, interval{s.Start, s.End})
				}
			}
			if got, want := TimeIn(spans, side, Idle), tl.Duration-length(union(busy)); got != want {
				t.Errorf("%s idle: got %v, want %v", side, got, want)
			}
		}
		var waits []Span
		for _, s := range spans {
			if s.State == Waiting {
				waits = append(waits, s)
			}
		}
		if len(waits) != 1 || waits[0].Reason != "channel busy" || waits[0].Start != 100*ms || waits[0].End != 180*ms {
			t.Errorf("waiting spans: got %+v, want one from 100ms to 180ms, channel busy", waits)
		}
	})
}

func TestOverlap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		if got := walkieLike(t).Overlap(); got != 0 {
			t.Errorf("half-duplex overlap: got %v, want 0", got)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		// Full duplex: the interruption travels while the story does.
		r := NewRecorder(nil)
		s1 := r.Want(Server, "story", "s1", "")
		r.Sent(s1)
		time.Sleep(50 * ms)
		i := r.Want(Client, "interruption", "i", "")
		r.Sent(i)
		time.Sleep(30 * ms) // 80
		mustHear(t, r, Server, "s1")
		time.Sleep(10 * ms) // 90
		mustHear(t, r, Client, "i")
		tl := r.Finish()
		if got := tl.Overlap(); got != 30*ms {
			t.Errorf("full-duplex overlap: got %v, want 30ms (50ms to 80ms)", got)
		}
	})
}

// TestOverlapIsPerLine: a line said while the other side's story is under
// way, but between two of its sentences, overlaps nothing: no bytes of the
// story were on the link while it travelled.
func TestOverlapIsPerLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRecorder(nil)
		s1 := r.Want(Server, "story", "s1", "")
		r.Sent(s1)
		time.Sleep(40 * ms) // 40
		mustHear(t, r, Server, "s1")
		time.Sleep(10 * ms) // 50
		i := r.Want(Client, "interruption", "i", "")
		r.Sent(i)
		time.Sleep(40 * ms) // 90
		mustHear(t, r, Client, "i")
		time.Sleep(10 * ms) // 100
		s2 := r.Want(Server, "story", "s2", "")
		r.Sent(s2)
		time.Sleep(20 * ms) // 120
		a := r.Want(Client, "interruption", "j", "")
		r.Sent(a)
		time.Sleep(20 * ms) // 140
		mustHear(t, r, Server, "s2")
		time.Sleep(20 * ms) // 160
		mustHear(t, r, Client, "j")
		if got := r.Finish().Overlap(); got != 20*ms {
			t.Errorf("got %v, want 20ms: only s2 (100 to 140) and j (120 to 160) were on the link together", got)
		}
	})
}

// TestUtterancesGroupByLabel: a story stays one utterance when an answer
// comes in the middle of it.
func TestUtterancesGroupByLabel(t *testing.T) {
	r := NewRecorder(nil)
	for _, l := range []struct{ label, text string }{{"story", "a"}, {"story", "b"}, {"answer", "c"}, {"story", "d"}} {
		r.Sent(r.Want(Server, l.label, l.text, ""))
	}
	r.Sent(r.Want(Client, "interruption", "x", ""))
	var got []int
	for _, u := range r.Finish().Utterances() {
		got = append(got, len(u.Messages))
	}
	if want := []int{3, 1, 1}; len(got) != len(want) || got[0] != 3 || got[1] != 1 || got[2] != 1 {
		t.Errorf("utterance sizes: got %v, want %v", got, want)
	}
}
