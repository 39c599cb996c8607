package report

import (
	"encoding/json"
	"testing"
	"testing/synctest"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/result"

	"go.uber.org/goleak"

	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMS(t *testing.T) {
	if got := result.MS(1234567 * time.Nanosecond); got != 1.235 {
		t.Errorf("result.MS(1.234567ms) = %v, want 1.235", got)
	}
}

// TestBuild records a small call on the fake clock and checks the numbers
// the report derives from it.
func TestBuild(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := timeline.NewRecorder(nil)
		i := r.Want(timeline.Client, story.LabelInterruption, "wait!", "channel busy")
		time.Sleep(700 * time.Millisecond)
		r.Sent(i)
		time.Sleep(40 * time.Millisecond)
		if _, err := r.Heard(timeline.Client, "wait!"); err != nil {
			t.Fatal(err)
		}
		r.Want(timeline.Server, story.LabelAfterthought, "oh!", "no request to answer") // never said
		time.Sleep(10 * time.Millisecond)
		res := &result.Result{Mode: result.Mode{Key: "walkie", Transport: "test"}, Latency: 40 * time.Millisecond, Timeline: r.Finish(), WireBytes: [2]int64{100, 0}, Connections: 1}
		rep := Build(res)
		in := rep.Summary.Interruption
		if *in.WantedAtMS != 0 || *in.SentAtMS != 700 || *in.HeardAtMS != 740 || *in.WaitedMS != 700 || *in.HeardAfterMS != 740 {
			t.Errorf("interruption: %v %v %v %v %v", *in.WantedAtMS, *in.SentAtMS, *in.HeardAtMS, *in.WaitedMS, *in.HeardAfterMS)
		}
		if a := rep.Summary.Afterthought; a.WantedAtMS == nil || a.SentAtMS != nil || a.HeardAtMS != nil || a.WaitedMS != nil {
			t.Errorf("an afterthought never said must have only a wanted time: %+v", a)
		}
		if rep.Summary.Client.WaitingMS != 700 || rep.Summary.PayloadBytes.ClientToServer != 5 || rep.Summary.Bytes.ClientToServer != 100 {
			t.Errorf("client waiting %v ms, payload %d, wire %d; want 700, 5, 100", rep.Summary.Client.WaitingMS, rep.Summary.PayloadBytes.ClientToServer, rep.Summary.Bytes.ClientToServer)
		}
		if rep.DurationMS != 750 || rep.LatencyMS != 40 {
			t.Errorf("duration %v ms, latency %v ms; want 750, 40", rep.DurationMS, rep.LatencyMS)
		}
		data, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		var back map[string]any
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		summary := back["summary"].(map[string]any)
		if summary["afterthought"].(map[string]any)["sent_at_ms"] != nil {
			t.Errorf("a time that never happened must be null in JSON: %s", data)
		}
	})
}
