package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duplexdemo/duplexdemo/examples/internal/relay"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestPushBeatsPolling: with the leading bid pushed, bidders see it sooner
// than when they poll, and the last-second bid reaches the auctioneer
// before the hammer; polled every 300ms it arrives after it.
func TestPushBeatsPolling(t *testing.T) {
	const latency, every = 20 * time.Millisecond, 300 * time.Millisecond
	poll, err := run(context.Background(), relay.Config{Transport: relay.Poll, Every: every, Latency: latency})
	if err != nil {
		t.Fatal(err)
	}
	push, err := run(context.Background(), relay.Config{Transport: relay.Push, Latency: latency})
	if err != nil {
		t.Fatal(err)
	}
	// Pushed, the bid crosses two links (carol's, the auctioneer's): 40ms
	// before a hammer 150ms away. A machine busy enough to delay it by
	// more than 110ms is a busy machine, not a slow transport, so what is
	// asserted is the order: pushed, it is heard sooner than polled.
	if push.lastBidHeard >= poll.lastBidHeard {
		t.Errorf("carol's bid was heard at %v pushed, %v polled; want pushing sooner", push.lastBidHeard, poll.lastBidHeard)
	}
	if !push.inTime {
		t.Logf("pushed, carol's bid was heard at %v, after the hammer at %v: this machine was too busy to keep a 40ms link", push.lastBidHeard, closeAt)
	}
	// Polled, it waits for the auctioneer's next poll: later still on a
	// busy machine, never sooner.
	if poll.inTime {
		t.Errorf("polled every %v, carol's bid was heard at %v, before the hammer at %v", every, poll.lastBidHeard, closeAt)
	}
	for _, n := range []string{"ann", "bob"} {
		if push.staleness[n] >= poll.staleness[n] {
			t.Errorf("%s saw bids up to %v late pushed, %v polled; want pushing sooner", n, push.staleness[n], poll.staleness[n])
		}
	}
	var out bytes.Buffer
	print(&out, []result{poll, push}, latency)
	if !strings.Contains(out.String(), "in time for the hammer") {
		t.Errorf("the table lacks its rows:\n%s", out.String())
	}
}
