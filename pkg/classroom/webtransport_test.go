package classroom_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/class"
	"github.com/duplexdemo/duplexdemo/pkg/classroom"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/webtransport"
)

// wtServer is grandma served with a UDP socket for WebTransport.
type wtServer struct {
	url  string
	stop func() (time.Duration, error)
}

// serveWT runs grandma with cfg and a UDP socket for WebTransport on
// 127.0.0.1, until the test ends or it calls stop.
func serveWT(t *testing.T, cfg classroom.Config) *wtServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listener, cfg.Packet = ln, pc
	s, err := classroom.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()
	stopped := false
	w := &wtServer{url: "http://" + ln.Addr().String()}
	w.stop = func() (time.Duration, error) {
		stopped = true
		began := time.Now()
		cancel()
		select {
		case err := <-served:
			return time.Since(began), err
		case <-time.After(3 * time.Second):
			return time.Since(began), fmt.Errorf("the server did not stop within 3s")
		}
	}
	t.Cleanup(func() {
		if !stopped {
			if _, err := w.stop(); err != nil {
				t.Error(err)
			}
		}
	})
	return w
}

// TestRemoteWebTransport: a WebTransport call to grandma served alone
// plays the whole script, the interruption on a stream of its own, shows
// both sides, and counts on each side the same bytes: grandma's log says
// what the grandchild's link counted, the look-up and the record's
// hand-over left out on both.
func TestRemoteWebTransport(t *testing.T) {
	logs := &callLog{}
	room, _, err := class.Open(class.Options{Modes: classroom.ClassModes(), Script: classroom.ClassScript()})
	if err != nil {
		t.Fatal(err)
	}
	defer room.Close()
	srv := serveWT(t, classroom.Config{Logger: slog.New(slog.NewJSONHandler(logs, nil)), Class: room})
	for n, latency := range []time.Duration{0, 20 * time.Millisecond} {
		t.Run(fmt.Sprintf("latency=%v", latency), func(t *testing.T) {
			s := calltest.Script(t, story.Options{Speed: remoteSpeed})
			res, err := call.RunRemote(context.Background(), webtransport.Mode(), call.Config{Script: s, Latency: latency, Student: class.NewName()}, srv.url)
			if err != nil {
				t.Fatal(err)
			}
			tl := res.Timeline
			for _, m := range tl.Messages {
				if !m.Sent || !m.Heard || m.HeardAt < m.SentAt {
					t.Errorf("the %s's %s was not sent, then heard: %+v", m.From, m.Label, m)
				}
			}
			if res.Alignment == nil {
				t.Fatal("no alignment")
			}
			// The interruption goes on a stream of its own in the session,
			// the call's second: grandma takes it and answers it there (a
			// refused stream fails the call).
			i := calltest.Said(t, tl, story.LabelInterruption)
			if i.Waited() > 20*time.Millisecond {
				t.Errorf("the interruption waited %v; on a stream of its own it goes at once", i.Waited())
			}
			if last := calltest.Last(tl, story.LabelStory); i.HeardAt > last.SentAt {
				t.Errorf("grandma heard the interruption at %v, after her last sentence at %v", i.HeardAt, last.SentAt)
			}
			if a := calltest.Said(t, tl, story.LabelAnswer); a.HeardAt < i.HeardAt {
				t.Errorf("her answer was heard at %v, before she heard the interruption at %v", a.HeardAt, i.HeardAt)
			}
			if n := calltest.Fact(t, res, "streams"); n != 2 {
				t.Errorf("the grandchild opened %v streams; want 2, the call's and the interruption's", n)
			}
			if res.Reported == 0 {
				t.Error("the call was not reported to the class")
			}
			// The call is its QUIC connection, on one UDP socket: the
			// look-up before it and the record's fetch after it are apart
			// from it, on neither side's count.
			if res.Connections != 1 || res.PerConnection[0].ClientPort == 0 {
				t.Errorf("connections: %d, want 1, QUIC's UDP socket: %+v", res.Connections, res.PerConnection)
			}
			if got := room.Record().Calls; len(got) != 1+n {
				t.Errorf("the class has %d calls, want %d", len(got), 1+n)
			} else if got[n].Summary.Connections != 1 {
				t.Errorf("the class has the call on %d connections, want 1", got[n].Summary.Connections)
			}
			logged := logs.wait(t, webtransport.Mode().Key, 1+n, 10*time.Second)[n]
			if logged.Outcome != "ok" {
				t.Errorf("grandma logged %q", logged.Outcome)
			}
			if logged.BytesIn != res.WireBytes[timeline.Client] || logged.BytesOut != res.WireBytes[timeline.Server] {
				t.Errorf("grandma counted %d in, %d out; the grandchild %d out, %d in (%+v)", logged.BytesIn, logged.BytesOut,
					res.WireBytes[timeline.Client], res.WireBytes[timeline.Server], res.PerConnection)
			}
		})
	}
	if n := len(room.Record().Calls); n != 2 {
		t.Errorf("the class has %d calls, want 2", n)
	}
	if _, err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), `"level":"WARN"`) {
		t.Errorf("grandma warned: %s", logs.String())
	}
}
