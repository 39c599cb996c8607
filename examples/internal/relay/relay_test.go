package relay_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duplexdemo/duplexdemo/examples/internal/relay"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestDelivery: pushed messages arrive a latency after they are sent;
// polled ones within a polling period more, never before they were sent.
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
			for i := range 5 {
				if _, err := a.Send(ctx, "hello "+string(rune('0'+i))); err != nil {
					t.Fatal(err)
				}
				time.Sleep(30 * time.Millisecond)
			}
			deadline := time.Now().Add(5 * time.Second)
			for len(b.Received()) < 5 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			got := b.Received()
			if len(got) != 5 {
				t.Fatalf("bob received %d of 5 messages", len(got))
			}
			bound := 2*latency + 100*time.Millisecond
			if tr == relay.Poll {
				bound += every
			}
			for i, m := range got {
				if m.From != "ann" || m.Seq != i+1 {
					t.Errorf("message %d: %+v", i, m)
				}
				if d := m.ReceivedAt - m.SentAt; d < latency || d > bound {
					t.Errorf("%s: message %d took %v; want %v to %v", tr, i, d, latency, bound)
				}
			}
			if len(a.Received()) != 0 {
				t.Errorf("ann received her own messages: %v", a.Received())
			}
		})
	}
}
