package compare

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestBothAtOnce plays both calls on loopback at the same time: each gets
// its own connection, and only the walkie's interruption waits.
func TestBothAtOnce(t *testing.T) {
	s := calltest.Script(t, story.Options{Speed: 2})
	walkie, phone, err := Run(context.Background(), func() call.Config { return call.Config{Script: s, Latency: 20 * time.Millisecond} })
	if err != nil {
		t.Fatal(err)
	}
	if walkie.Mode != "walkie" || phone.Mode != "phone" || walkie.Connections != 1 || phone.Connections != 1 {
		t.Fatalf("got %s with %d connections and %s with %d", walkie.Mode, walkie.Connections, phone.Mode, phone.Connections)
	}
	w := calltest.Said(t, walkie.Timeline, story.LabelInterruption)
	p := calltest.Said(t, phone.Timeline, story.LabelInterruption)
	if w.Waited() <= p.Waited() {
		t.Errorf("the walkie's interruption waited %v, no longer than the phone's %v", w.Waited(), p.Waited())
	}
}

// TestStopsBoth: when the context ends, both calls stop.
func TestStopsBoth(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := Run(ctx, func() call.Config { return call.Config{Script: story.Default(), Latency: 40 * time.Millisecond} })
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("got %v after %v, want the context's error within a second or so", err, time.Since(start))
	}
}
