package relay_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duplexdemo/duplexdemo/examples/internal/relay"
	"github.com/duplexdemo/duplexdemo/pkg/link"
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
// that carries it; long-polled: two more latencies, for the answer to the
// waiting request going down and the next one coming up) plus a scheduling
// slack; the server has each between those two moments; and no one hears
// herself.
func TestDelivery(t *testing.T) {
	const latency, every = 10 * time.Millisecond, 100 * time.Millisecond
	for _, tr := range []relay.Transport{relay.Push, relay.Poll, relay.LongPoll} {
		t.Run(tr.String(), func(t *testing.T) {
			a, b := annAndBob(t, relay.Config{Transport: tr, Every: every, Latency: latency})
			ctx := context.Background()
			model := 2 * latency // ann's link, then bob's
			switch tr {
			case relay.Poll:
				model += every + 2*latency
			case relay.LongPoll:
				model += 2 * latency
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
				if m.PostedAt < m.SentAt+latency || m.PostedAt > m.ReceivedAt-latency {
					t.Errorf("%s: message %d was sent at %v, on the server at %v, received at %v; want the server to have it a latency after the first and before the last", tr, i, m.SentAt, m.PostedAt, m.ReceivedAt)
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

// TestBandwidth: behind a bandwidth, a big message occupies its sender's
// link going up, then its receiver's coming down, so it arrives no sooner
// than twice its time on the link after it was sent (the lower bound is
// exact: the link cannot deliver a byte before it was serialised); and a
// small one sent just after it by the same sender waits behind it, never
// overtaking it. Each transport, with jitter on; the sender never gets her
// own big message back.
func TestBandwidth(t *testing.T) {
	const (
		latency = 10 * time.Millisecond
		rate    = 4 * link.Mbit
		size    = 100_000 // 200ms at 4Mbit
	)
	onLink := rate.TimeFor(size)
	for _, tr := range []relay.Transport{relay.Push, relay.Poll, relay.LongPoll} {
		t.Run(tr.String(), func(t *testing.T) {
			a, b := annAndBob(t, relay.Config{Transport: tr, Every: 50 * time.Millisecond, Latency: latency,
				Bandwidth: rate, Jitter: 5 * time.Millisecond, Seed: 7, MaxMessage: size})
			ctx := context.Background()
			if _, err := a.Send(ctx, strings.Repeat("x", size)); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Send(ctx, "small"); err != nil {
				t.Fatal(err)
			}
			got := waitFor(t, b, 2, 2*onLink+schedulingSlack+5*time.Second)
			big, small := got[0], got[1]
			if len(big.Data) != size || small.Data != "small" {
				t.Fatalf("bob received %d bytes, then %q; want %d, then \"small\"", len(big.Data), small.Data, size)
			}
			if d := big.ReceivedAt - big.SentAt; d < 2*onLink {
				t.Errorf("the %d bytes crossed both links in %v; the bandwidth allows no less than %v", size, d, 2*onLink)
			}
			if d := big.PostedAt - big.SentAt; d < onLink {
				t.Errorf("the %d bytes reached the server in %v; the bandwidth allows no less than %v", size, d, onLink)
			}
			if len(a.Received()) != 0 {
				t.Errorf("ann received her own messages")
			}
			if small.PostedAt < big.PostedAt || small.ReceivedAt < big.ReceivedAt {
				t.Errorf("the small message (on the server at %v, received at %v) overtook the big one (%v, %v)", small.PostedAt, small.ReceivedAt, big.PostedAt, big.ReceivedAt)
			}
			// Pushed, the small one queues behind the big one on the
			// WebSocket; polled, its post waits for the big one's answer.
			if d := small.PostedAt - big.SentAt; d < onLink {
				t.Errorf("the small message reached the server %v after the big one was sent; the bandwidth allows no less than %v", d, onLink)
			}
		})
	}
}

// TestBatches: a poll's answer brings every message since the last poll in
// one delivery; a push brings each in its own.
func TestBatches(t *testing.T) {
	for _, tr := range []relay.Transport{relay.Push, relay.Poll} {
		t.Run(tr.String(), func(t *testing.T) {
			a, b := annAndBob(t, relay.Config{Transport: tr, Every: 300 * time.Millisecond, Latency: 5 * time.Millisecond})
			ctx := context.Background()
			// Posted one after another, each waiting for its answer, the
			// three take far less than a polling period.
			for _, m := range []string{"one", "two", "three"} {
				if _, err := a.Send(ctx, m); err != nil {
					t.Fatal(err)
				}
			}
			got := waitFor(t, b, 3, 5*time.Second)
			deliveries := map[int]bool{}
			for _, m := range got {
				deliveries[m.Delivery] = true
			}
			want := 3
			if tr == relay.Poll {
				want = 1 // or 2, if a poll fell between two posts
			}
			if tr == relay.Push && len(deliveries) != 3 || tr == relay.Poll && len(deliveries) > 2 {
				t.Errorf("%s: three messages in %d deliveries, want %d", tr, len(deliveries), want)
			}
		})
	}
}

// TestTooLong: a message longer than the hub allows is refused before it
// is sent, whatever the transport.
func TestTooLong(t *testing.T) {
	for _, tr := range []relay.Transport{relay.Push, relay.Poll, relay.LongPoll} {
		h, err := relay.Start(relay.Config{Transport: tr, Every: 100 * time.Millisecond, MaxMessage: 10})
		if err != nil {
			t.Fatal(err)
		}
		a, err := h.Join(context.Background(), "ann")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Send(context.Background(), "eleven bytes"); err == nil {
			t.Errorf("%s: a message of 12 bytes was sent to a hub that takes 10", tr)
		}
		if err := h.Close(); err != nil {
			t.Error(err)
		}
	}
	if _, err := relay.Start(relay.Config{Transport: relay.Push, MaxMessage: relay.MaxMessageLimit + 1}); err == nil {
		t.Error("a hub took messages above MaxMessageLimit")
	}
}

// waitFor waits up to bound for c to have received n messages, and returns
// them.
func waitFor(t *testing.T, c *relay.Client, n int, bound time.Duration) []relay.Message {
	t.Helper()
	deadline := time.Now().Add(bound)
	for len(c.Received()) < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := c.Received()
	if len(got) != n {
		t.Fatalf("%s received %d messages in %v, want %d", c.Name(), len(got), bound, n)
	}
	return got
}

// annAndBob starts a hub with cfg, closed when the test ends, and joins
// two clients to it, ann and bob.
func annAndBob(t *testing.T, cfg relay.Config) (a, b *relay.Client) {
	t.Helper()
	h, err := relay.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	ctx := context.Background()
	if a, err = h.Join(ctx, "ann"); err != nil {
		t.Fatal(err)
	}
	if b, err = h.Join(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	return a, b
}
