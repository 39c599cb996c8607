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
	if !push.inTime {
		t.Errorf("pushed, carol's bid was heard at %v, after the hammer at %v", push.lastBidHeard, closeAt)
	}
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
