package timeline

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestMessageLifecycle checks the three measured moments of a message on
// the fake clock, where every duration is exact.
func TestMessageLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRecorder(nil)
		time.Sleep(100 * time.Millisecond)
		id := r.Want(Client, "question", "hello", "channel busy")
		time.Sleep(30 * time.Millisecond)
		r.Sent(id)
		time.Sleep(40 * time.Millisecond)
		m, err := r.Heard(Client, "hello")
		if err != nil {
			t.Fatal(err)
		}
		tl := r.Finish()
		if m.WantedAt != 100*time.Millisecond || m.SentAt != 130*time.Millisecond || m.HeardAt != 170*time.Millisecond {
			t.Errorf("wanted/sent/heard at %v/%v/%v, want 100ms/130ms/170ms", m.WantedAt, m.SentAt, m.HeardAt)
		}
		if got := m.Waited(); got != 30*time.Millisecond {
			t.Errorf("Waited() = %v, want 30ms", got)
		}
		if got := m.HeardAfter(); got != 70*time.Millisecond {
			t.Errorf("HeardAfter() = %v, want 70ms", got)
		}
		var kinds []string
		for _, e := range tl.Events {
			kinds = append(kinds, e.Side.String()+" "+e.Kind.String())
		}
		want := "client want, client waiting, client send, server heard"
		if got := strings.Join(kinds, ", "); got != want {
			t.Errorf("events: got %s, want %s", got, want)
		}
		if e := tl.Events[1]; e.At != 101*time.Millisecond || e.Reason != "channel busy" {
			t.Errorf("waiting event at %v with reason %q, want at 101ms with \"channel busy\"", e.At, e.Reason)
		}
		if e := tl.Events[2]; e.Waited != 30*time.Millisecond {
			t.Errorf("send event waited %v, want 30ms", e.Waited)
		}
	})
}

// TestNoWaitingNoticeWhenSentAtOnce: a line the channel lets go at once
// gets no waiting event, even after time passes.
func TestNoWaitingNoticeWhenSentAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRecorder(nil)
		r.Sent(r.Want(Server, "story", "once upon a time", "no request to answer"))
		time.Sleep(time.Second)
		for _, e := range r.Finish().Events {
			if e.Kind == KindWaiting {
				t.Errorf("got a waiting event %+v for a line sent at once", e)
			}
		}
	})
}

func TestHeardChecksWhatWasSent(t *testing.T) {
	r := NewRecorder(nil)
	if _, err := r.Heard(Server, "anything"); err == nil {
		t.Error("Heard with nothing sent: got no error")
	}
	r.Sent(r.Want(Server, "story", "first", ""))
	r.Sent(r.Want(Server, "story", "second", ""))
	if _, err := r.Heard(Server, "second"); err == nil || !strings.Contains(err.Error(), `"first"`) {
		t.Errorf("Heard out of order: got %v, want an error naming the message that was next", err)
	}
	for _, text := range []string{"first", "second"} {
		if m, err := r.Heard(Server, text); err != nil || m.Text != text {
			t.Errorf("Heard(%q) = %q, %v", text, m.Text, err)
		}
	}
	r.Finish()
}

// TestObserverSeesEventsInOrder records from many goroutines at once and
// checks that the observer is told of them in timestamp order.
func TestObserverSeesEventsInOrder(t *testing.T) {
	var seen []Event
	r := NewRecorder(func(e Event) { seen = append(seen, e) })
	done := make(chan struct{})
	for g := 0; g < 8; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 200; i++ {
				r.Record(Client, KindConnect, "x")
			}
		}()
	}
	for g := 0; g < 8; g++ {
		<-done
	}
	tl := r.Finish()
	if len(seen) != 1600 || len(tl.Events) != 1600 {
		t.Fatalf("observer saw %d events, timeline has %d, want 1600", len(seen), len(tl.Events))
	}
	for i := 1; i < len(seen); i++ {
		if seen[i].At < seen[i-1].At {
			t.Fatalf("event %d at %v came after one at %v", i, seen[i].At, seen[i-1].At)
		}
	}
}

func TestFinishStopsRecording(t *testing.T) {
	r := NewRecorder(nil)
	r.Record(Client, KindConnect, "open")
	tl := r.Finish()
	r.Record(Client, KindClose, "late")
	r.Sent(r.Want(Client, "late", "late", ""))
	if again := r.Finish(); len(again.Events) != 1 || again.Duration != tl.Duration {
		t.Errorf("after Finish: %d events, duration %v; want 1 and %v", len(again.Events), again.Duration, tl.Duration)
	}
}

func TestSleepUntil(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRecorder(nil)
		if err := r.SleepUntil(context.Background(), 250*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if now := r.Now(); now != 250*time.Millisecond {
			t.Errorf("woke at %v, want 250ms", now)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		if err := r.SleepUntil(ctx, time.Hour); err != context.DeadlineExceeded {
			t.Errorf("SleepUntil past the context's end: got %v, want %v", err, context.DeadlineExceeded)
		}
		r.Finish()
	})
}

// TestWaitingNoticesForEachStuckLine: of three lines wanted at different
// times, the two that stay unsent each get a waiting event, one Resolution
// after they were wanted; the one sent at once gets none.
func TestWaitingNoticesForEachStuckLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRecorder(nil)
		a := r.Want(Client, "a", "a", "busy")
		time.Sleep(300 * time.Microsecond)
		b := r.Want(Server, "b", "b", "no request")
		r.Sent(r.Want(Client, "c", "c", "busy"))
		time.Sleep(10 * time.Millisecond)
		r.Sent(a)
		r.Sent(b)
		var got []string
		for _, e := range r.Finish().Events {
			if e.Kind == KindWaiting {
				got = append(got, e.Label+"@"+e.At.String())
			}
		}
		if want := []string{"a@1ms", "b@1.3ms"}; strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("waiting events %v, want %v", got, want)
		}
	})
}

// TestRecordingAllocatesNothing: once its memory has grown, a recorder
// records events and whole messages without allocating.
func TestRecordingAllocatesNothing(t *testing.T) {
	r := NewRecorder(nil)
	defer r.Finish()
	message := func() {
		r.Sent(r.Want(Client, "question", "hello", "busy"))
		if _, err := r.Heard(Client, "hello"); err != nil {
			t.Fatal(err)
		}
		r.Record(Client, KindConnect, "x")
	}
	for range 1000 {
		message()
	}
	r.Reset()
	if n := testing.AllocsPerRun(500, message); n != 0 {
		t.Errorf("recording a message allocates %v times", n)
	}
}

// BenchmarkRecord measures recording one event, the cost every measured
// moment adds to a call. Target: at most 200 ns and no allocation.
func BenchmarkRecord(b *testing.B) {
	r := NewRecorder(nil)
	for range 4096 {
		r.Record(Client, KindConnect, "warm")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%4096 == 0 {
			r.Reset() // keep memory bounded; the capacity stays
		}
		r.Record(Client, KindConnect, "opens a connection")
	}
	b.StopTimer()
	r.Finish()
}

// BenchmarkMessage measures a whole message: wanted, sent and heard, three
// events. Target: at most 200 ns an event and no allocation.
func BenchmarkMessage(b *testing.B) {
	r := NewRecorder(nil)
	b.ReportAllocs()
	for i := range b.N {
		if i%1024 == 0 {
			r.Reset() // keep memory bounded; the capacity stays
		}
		r.Sent(r.Want(Client, "question", "hello", "busy"))
		if _, err := r.Heard(Client, "hello"); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	r.Finish()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(3*b.N), "ns/event")
}
