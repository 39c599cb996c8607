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

// TestPushCollidesLess: pushed, each editor's view is staler by less, and
// fewer changes are made on a stale text, than polled.
func TestPushCollidesLess(t *testing.T) {
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
		if len(r.stale) != 2*edits {
			t.Errorf("%s: %d changes received, want %d", r.transport, len(r.stale), 2*edits)
		}
	}
	if push.staleness(0.5) >= poll.staleness(0.5) {
		t.Errorf("median staleness: push %v, poll %v; want push less", push.staleness(0.5), poll.staleness(0.5))
	}
	if push.collisions >= poll.collisions {
		t.Errorf("collisions: push %d, poll %d; want push fewer", push.collisions, poll.collisions)
	}
	var out bytes.Buffer
	print(&out, []result{poll, push})
	if !strings.Contains(out.String(), "collisions") {
		t.Errorf("the table lacks its rows:\n%s", out.String())
	}
}
