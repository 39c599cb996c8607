package classroom_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/classroom"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// TestRemoteCountsLeaveHandOverOut: the server→client bytes a remote call
// reports, in all and per connection, are what grandma's server wrote on
// each connection, less the bytes that handed her record over, which the
// client finds where they crossed. Two observers on grandma's side check
// it, neither of them the client's: a tap under her server's listener,
// which keeps every byte she wrote on each connection (and so her record,
// whose framing this test works out by the formula the client no longer
// uses), and her own log of the call (bytes_out).
func TestRemoteCountsLeaveHandOverOut(t *testing.T) {
	logs := &callLog{}
	taps := &tapListener{}
	base := serveTapped(t, taps, classroom.Config{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	for _, tc := range []struct {
		mode string
		run  remoteRun
		// framing is what carrying a record of n bytes takes, as grandma
		// hands it over: the formula the client used to subtract.
		framing func(n int) int
	}{
		{"walkie", remote(halfduplex.Mode()), func(n int) int {
			n++ // the line's newline
			return len(strconv.FormatInt(int64(n), 16)) + 2 + n + 2
		}},
		{"phone", remote(fullduplex.Mode()), func(n int) int {
			switch {
			case n >= 1<<16:
				return 2 + 8 + n
			case n >= 126:
				return 2 + 2 + n
			}
			return 2 + n
		}},
	} {
		calls := 0
		for _, latency := range []time.Duration{0, 20 * time.Millisecond} {
			t.Run(fmt.Sprintf("%s/latency=%v", tc.mode, latency), func(t *testing.T) {
				res, err := tc.run(context.Background(), call.Config{Script: calltest.Script(t, story.Options{Speed: 4}), Latency: latency}, base)
				if err != nil {
					t.Fatal(err)
				}
				calls++
				logged := logs.wait(t, tc.mode, calls, 10*time.Second)[calls-1]

				var wrote, handOver int64 // by grandma, on all the call's connections
				var record []byte
				for i, pc := range res.PerConnection {
					out := taps.written(pc.ClientPort)
					if out == nil {
						t.Fatalf("connection %d (client port %d): grandma's server never accepted it", i, pc.ClientPort)
					}
					wrote += int64(len(out))
					var carried int64
					if rec := recordIn(t, out); rec != nil {
						if record != nil {
							t.Fatalf("grandma handed her record over twice")
						}
						record = rec
						carried = int64(tc.framing(len(rec)))
						handOver += carried
					}
					if got, want := pc.Bytes[timeline.Server], int64(len(out))-carried; got != want {
						t.Errorf("connection %d: the call reports %d bytes server→client; grandma wrote %d on it, %d of them her record's hand-over: want %d",
							i, got, len(out), carried, want)
					}
					t.Logf("connection %d (client port %d): grandma wrote %d bytes, the call reports %d server→client", i, pc.ClientPort, len(out), pc.Bytes[timeline.Server])
				}
				if record == nil {
					t.Fatal("grandma's record is on none of the call's connections")
				}
				measured := wrote - res.WireBytes[timeline.Server]
				t.Logf("%s, latency %v: record %d bytes; hand-over by formula %d, measured on the wire %d; grandma logged bytes_out %d, the call reports %d server→client",
					tc.mode, latency, len(record), handOver, measured, logged.BytesOut, res.WireBytes[timeline.Server])
				if measured != handOver {
					t.Errorf("the call left %d bytes out of its server→client count; her record's hand-over took %d", measured, handOver)
				}
				if measured <= int64(len(record)) {
					t.Errorf("the hand-over counted %d bytes, no more than her record's %d: its framing is missing", measured, len(record))
				}
				// Grandma logs a walkie call once its answers have gone out
				// to their last byte: net/http's terminating chunk of the
				// goodbye's answer, "0\r\n\r\n" (RFC 9112 §7.1), included.
				grandmaOut := logged.BytesOut
				if grandmaOut != wrote {
					t.Errorf("grandma logged bytes_out %d; her server wrote %d on the call's connections", logged.BytesOut, wrote)
				}
				if got, want := res.WireBytes[timeline.Server], grandmaOut-handOver; got != want {
					t.Errorf("the call reports %d bytes server→client; grandma logged %d out, less her record's hand-over (%d): want %d", got, grandmaOut, handOver, want)
				}
				var sum int64
				for _, pc := range res.PerConnection {
					sum += pc.Bytes[timeline.Server]
				}
				if sum != res.WireBytes[timeline.Server] {
					t.Errorf("per connection adds up to %d bytes server→client, the total is %d", sum, res.WireBytes[timeline.Server])
				}
			})
		}
	}
}

// recordIn returns grandma's record as she wrote it on a connection: the
// JSON object that starts with wire.RecordPrefix; nil if she did not.
func recordIn(t *testing.T, out []byte) []byte {
	t.Helper()
	at := bytes.Index(out, []byte(wire.RecordPrefix))
	if at < 0 {
		return nil
	}
	var rec json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(out[at:])).Decode(&rec); err != nil {
		t.Fatalf("grandma's record as she wrote it: %v", err)
	}
	return rec
}

// serveTapped serves grandma on a tapped listener of 127.0.0.1 until the
// test ends, and returns her URL.
func serveTapped(t *testing.T, taps *tapListener, cfg classroom.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	taps.Listener = ln
	cfg.Listener = taps
	s, err := classroom.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// tapListener keeps every byte grandma's server writes on each connection
// it accepts, under everything the server does (its emulated link, its
// meters), by the client's port.
type tapListener struct {
	net.Listener
	mu  sync.Mutex
	out map[int]*bytes.Buffer
}

func (l *tapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.out == nil {
		l.out = map[int]*bytes.Buffer{}
	}
	buf := new(bytes.Buffer)
	l.out[c.RemoteAddr().(*net.TCPAddr).Port] = buf
	return &tapConn{Conn: c, l: l, out: buf}, nil
}

// written returns a copy of what the server wrote on the connection from
// the client's port; nil if it accepted none from there.
func (l *tapListener) written(port int) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	buf := l.out[port]
	if buf == nil {
		return nil
	}
	return append([]byte{}, buf.Bytes()...)
}

type tapConn struct {
	net.Conn
	l   *tapListener
	out *bytes.Buffer
}

func (c *tapConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.l.mu.Lock()
	c.out.Write(p[:n])
	c.l.mu.Unlock()
	return n, err
}
