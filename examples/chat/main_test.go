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

// TestPushIsSooner: every message reaches both others either way, and
// pushed messages arrive sooner than polled ones, by median and at worst.
func TestPushIsSooner(t *testing.T) {
	const latency, every = 20 * time.Millisecond, 300 * time.Millisecond
	poll, err := run(context.Background(), relay.Config{Transport: relay.Poll, Every: every, Latency: latency})
	if err != nil {
		t.Fatal(err)
	}
	push, err := run(context.Background(), relay.Config{Transport: relay.Push, Latency: latency})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []result{poll, push} {
		if r.received != 2*len(lines) {
			t.Errorf("%s: %d messages received, want %d", r.transport, r.received, 2*len(lines))
		}
	}
	if push.percentile(0.5) >= poll.percentile(0.5) || push.percentile(1) >= poll.percentile(1) {
		t.Errorf("push: median %v, worst %v; poll: median %v, worst %v; want push sooner", push.percentile(0.5), push.percentile(1), poll.percentile(0.5), poll.percentile(1))
	}
	var out bytes.Buffer
	print(&out, []result{poll, push})
	if !strings.Contains(out.String(), "median delay") {
		t.Errorf("the table lacks its rows:\n%s", out.String())
	}
}
