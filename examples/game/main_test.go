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

// TestPushIsFresher plays every transport without jitter and with, at once,
// and checks what the README says: every position is accounted for (shown,
// skipped by its sender, arrived with a newer one, or lost) and none is
// lost; none arrives sooner than the two links it crosses allow; pushed,
// the other player's position is fresher than polled, by median, and fewer
// are skipped; long-polled, fresher than polled too; and jitter makes some
// pushed positions later than the latency alone would.
func TestPushIsFresher(t *testing.T) {
	o := options{latency: 20 * time.Millisecond, every: 100 * time.Millisecond, jitter: 30 * time.Millisecond, seed: 1, playFor: 2 * time.Second}
	results, err := runAll(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2*len(transports) {
		t.Fatalf("%d results, want %d", len(results), 2*len(transports))
	}
	for _, r := range results {
		name := r.cfg.Transport.String()
		if r.cfg.Jitter > 0 {
			name += " with jitter"
		}
		if got := r.shown() + r.skipped + r.coalesced + r.lost; got != r.made {
			t.Errorf("%s: %d shown, %d skipped, %d coalesced, %d lost: %d, want the %d made", name, r.shown(), r.skipped, r.coalesced, r.lost, got, r.made)
		}
		if r.lost != 0 {
			t.Errorf("%s: %d positions lost on TCP", name, r.lost)
		}
		if a := r.age(0); a < 2*o.latency {
			t.Errorf("%s: a position arrived %v after it was made; its two links take at least %v", name, a, 2*o.latency)
		}
		t.Logf("%s: median age %v, max %v, %d of %d shown", name, r.age(0.5), r.age(1), r.shown(), r.made)
	}
	for i := 0; i < len(results); i += len(transports) {
		poll, longpoll, push := results[i], results[i+1], results[i+2]
		if push.cfg.Transport != relay.Push || poll.cfg.Transport != relay.Poll || longpoll.cfg.Transport != relay.LongPoll {
			t.Fatalf("results in the order %v, %v, %v", poll.cfg.Transport, longpoll.cfg.Transport, push.cfg.Transport)
		}
		if push.age(0.5) >= poll.age(0.5) || longpoll.age(0.5) >= poll.age(0.5) {
			t.Errorf("median age: push %v, longpoll %v, poll %v; want push and longpoll fresher than poll", push.age(0.5), longpoll.age(0.5), poll.age(0.5))
		}
		if push.skipped >= poll.skipped {
			t.Errorf("skipped by the sender: push %d, poll %d; want push fewer", push.skipped, poll.skipped)
		}
	}
	// Two draws from 0 to 30ms add less than 15ms with a chance of 1 in 8:
	// for all of 80 positions, never.
	if push := results[len(results)-1]; push.age(1) <= 2*o.latency+o.jitter/2 {
		t.Errorf("with jitter, the stalest pushed position was %v old; want more than %v", push.age(1), 2*o.latency+o.jitter/2)
	}
	var out bytes.Buffer
	print(&out, o, results)
	for _, want := range []string{"age on arrival, median", "largest jump", "push", "jitter of 0 to 30ms"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output lacks %q:\n%s", want, out.String())
		}
	}
}
