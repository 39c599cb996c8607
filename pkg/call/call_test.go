package call

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStartRejectsBadConfig(t *testing.T) {
	var oe *story.OptionError
	if _, err := Start(Config{Script: story.Default(), Latency: -time.Millisecond}); !errors.As(err, &oe) || oe.Option != "latency" {
		t.Errorf("negative latency: got %v, want an OptionError for latency", err)
	}
	if _, err := Start(Config{}); err == nil {
		t.Error("no script: got no error")
	}
}

// TestFinishClosesWhatWasLeftOpen: a connection the grandchild's client
// never closed is closed by Finish, after a bounded wait, and recorded.
func TestFinishClosesWhatWasLeftOpen(t *testing.T) {
	c, err := Start(Config{Script: story.Default(), Latency: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		conn, err := c.Listener.Accept()
		if err == nil {
			accepted <- conn
		}
		close(accepted)
	}()
	conn, err := c.DialContext(context.Background(), "tcp", c.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_ = conn // left open on purpose
	server := <-accepted
	defer server.Close()
	start := time.Now()
	res := c.Finish("test", "tcp", false)
	if d := time.Since(start); d > closeWait+time.Second {
		t.Errorf("Finish took %v", d)
	}
	var kinds []timeline.Kind
	for _, e := range res.Timeline.Events {
		kinds = append(kinds, e.Kind)
	}
	if len(kinds) != 2 || kinds[0] != timeline.KindConnect || kinds[1] != timeline.KindClose || res.Connections != 1 {
		t.Errorf("events %v, %d connections; want connect, close and 1", kinds, res.Connections)
	}
}
