package timeline

import (
	"reflect"
	"testing"
	"testing/synctest"
	"time"
)

// TestReplayAgreesWithFinish: the timeline rebuilt from what an observer
// was told is the one the recorder returns, and while the call goes on it
// shows a wait still going as pending up to now.
func TestReplayAgreesWithFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var seen []Event
		r := NewRecorder(func(e Event) { seen = append(seen, e) })
		q := r.Want(Client, "question", "hello", ReasonConnecting)
		time.Sleep(20 * time.Millisecond)
		r.Sent(q)
		time.Sleep(40 * time.Millisecond)
		if _, err := r.Heard(Client, "hello"); err != nil {
			t.Fatal(err)
		}
		s := r.Want(Server, "story", "once upon a time", "")
		r.Sent(s)
		i := r.Want(Client, "interruption", "wait!", ReasonChannelBusy)
		time.Sleep(30 * time.Millisecond)
		synctest.Wait() // the wait's notice is recorded

		live := Replay(seen, 90*time.Millisecond)
		want := []Span{{Side: Client, State: Waiting, Start: 60 * time.Millisecond, End: 90 * time.Millisecond, Label: "interruption", Reason: ReasonChannelBusy}}
		if got := live.Pending(); !reflect.DeepEqual(got, want) {
			t.Errorf("pending at 90ms: got %+v, want %+v", got, want)
		}

		time.Sleep(10 * time.Millisecond)
		r.Sent(i)
		time.Sleep(40 * time.Millisecond)
		if _, err := r.Heard(Server, "once upon a time"); err != nil {
			t.Fatal(err)
		}
		tl := r.Finish()
		got := Replay(seen, tl.Duration)
		if !reflect.DeepEqual(got.Messages, tl.Messages) {
			t.Errorf("replayed messages\n%+v\nwant\n%+v", got.Messages, tl.Messages)
		}
		if !reflect.DeepEqual(got.Spans(), tl.Spans()) {
			t.Errorf("replayed spans\n%+v\nwant\n%+v", got.Spans(), tl.Spans())
		}
		if p := got.Pending(); len(p) != 0 {
			t.Errorf("pending after the call: %+v, want none", p)
		}
	})
}
