package relay_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duplexdemo/duplexdemo/examples/internal/relay"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// schedulingSlack is how late, beyond what the link model allows, a
// message may arrive on a busy machine: goroutines, timers and the HTTP
// round trips of a poll all wait for a CPU, and under go test -race beside
// other busy programs (../shared/tools/test-under-load) a delivery has been
// seen to take a second more than the model. It is a bound on scheduling,
// not on the link: only the lower bound is exact.
const schedulingSlack = 3 * time.Second

// TestDelivery: every message reaches the other client once, in order, from
// its sender, never before two latencies after it was sent (the sender's
// link, then the receiver's), and no later than the link model allows
// (pushed: those two latencies; polled: a polling period and two more
// latencies, for the sender's post waiting behind her own poll and the poll
// that carries it) plus a scheduling slack; and no one hears herself.
func TestDelivery(t *testing.T) {
	const latency, every = 10 * time.Millisecond, 100 * time.Millisecond
	for _, tr := range []relay.Transport{relay.Push, relay.Poll} {
		t.Run(tr.String(), func(t *testing.T) {
			h, err := relay.Start(relay.Config{Transport: tr, Every: every, Latency: latency})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			ctx := context.Background()
			a, err := h.Join(ctx, "ann")
			if err != nil {
				t.Fatal(err)
			}
			b, err := h.Join(ctx, "bob")
			if err != nil {
				t.Fatal(err)
			}
			model := 2 * latency // ann's link, then bob's
			if tr == relay.Poll {
				model += every + 2*latency
			}
			bound := model + schedulingSlack
			for i := range 5 {
				if _, err := a.Send(ctx, "hello "+string(rune('0'+i))); err != nil {
					t.Fatal(err)
				}
				time.Sleep(30 * time.Millisecond)
			}
			deadline := time.Now().Add(bound + 5*time.Second)
			for len(b.Received()) < 5 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			got := b.Received()
			if len(got) != 5 {
				t.Fatalf("bob received %d of 5 messages", len(got))
			}
			var slowest time.Duration
			for i, m := range got {
				if m.From != "ann" || m.Seq != i+1 || m.Data != "hello "+string(rune('0'+i)) {
					t.Errorf("message %d: %+v", i, m)
				}
				if i > 0 && (m.SentAt <= got[i-1].SentAt || m.ReceivedAt < got[i-1].ReceivedAt) {
					t.Errorf("message %d was sent at %v and received at %v, after message %d sent at %v and received at %v",
						i, m.SentAt, m.ReceivedAt, i-1, got[i-1].SentAt, got[i-1].ReceivedAt)
				}
				d := m.ReceivedAt - m.SentAt
				if d < 2*latency || d > bound {
					t.Errorf("%s: message %d took %v; want %v to %v (%v by the link model, plus %v for scheduling)", tr, i, d, 2*latency, bound, model, schedulingSlack)
				}
				slowest = max(slowest, d)
			}
			t.Logf("%s: slowest message %v; the link model allows %v", tr, slowest, model)
			if len(a.Received()) != 0 {
				t.Errorf("ann received her own messages: %v", a.Received())
			}
		})
	}
}
