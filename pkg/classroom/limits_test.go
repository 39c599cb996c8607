package classroom_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duplexdemo/duplexdemo/pkg/classroom"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// TestHeaderLimit: a request's head (request line, headers, blank line) of
// MaxHeaderBytes is taken, one byte more gets 431: what holds is what the
// docs say, not net/http's 4 KiB more.
func TestHeaderLimit(t *testing.T) {
	base := start(t, classroom.Config{})
	addr := strings.TrimPrefix(base, "http://")
	status := func(size int) int {
		head := fmt.Sprintf("GET /script.json HTTP/1.1\r\nHost: %s\r\nX-Pad: ", addr)
		head += strings.Repeat("a", size-len(head)-len("\r\n\r\n")) + "\r\n\r\n"
		if len(head) != size {
			t.Fatalf("a head of %d bytes, want %d", len(head), size)
		}
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, head); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(classroom.MaxHeaderBytes); got != http.StatusOK {
		t.Errorf("a head of %d bytes: %d, want 200", classroom.MaxHeaderBytes, got)
	}
	if got := status(classroom.MaxHeaderBytes + 1); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a head of %d bytes: %d, want 431", classroom.MaxHeaderBytes+1, got)
	}
}

// TestHostCheck: grandma on loopback answers only requests for her own
// loopback names; a page elsewhere whose name was made to point at
// 127.0.0.1 (DNS rebinding) says its own name in Host (and Origin, for
// which gorilla's same-origin rule alone would let it call) and is refused
// with 421 and the address to use, on every path. On any other address
// nothing is checked.
func TestHostCheck(t *testing.T) {
	base := start(t, classroom.Config{})
	port := base[strings.LastIndex(base, ":")+1:]
	s := fastScript(t)
	try := func(base, host string) (page, walkie, phone int, why string) {
		t.Helper()
		get := func(method, path string, body io.Reader) *http.Response {
			req, err := http.NewRequest(method, base+path, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = host
			req.Header.Set("Origin", "http://"+host)
			req.Header.Set(wire.HeaderVersion, fmt.Sprint(wire.Version))
			req.Header.Set(wire.HeaderCall, wire.NewCallID())
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}
		resp := get(http.MethodGet, "/", nil)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page, why = resp.StatusCode, string(b)
		resp = get(http.MethodPost, halfduplex.Path+"?"+wire.ScriptQuery(s).Encode(), strings.NewReader(s.Question))
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		walkie = resp.StatusCode
		d := websocket.Dialer{NetDialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, strings.TrimPrefix(base, "http://"))
		}}
		conn, r, err := d.Dial("ws://"+host+fullduplex.Path+"?"+wire.ScriptQuery(s).Encode(), http.Header{"Origin": {"http://" + host}})
		if r == nil {
			t.Fatalf("Host %s: the phone: %v", host, err)
		}
		if conn != nil {
			conn.Close()
		}
		return page, walkie, r.StatusCode, why
	}
	for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port, "LocalHost:" + port, "[::1]:" + port} {
		if page, walkie, phone, _ := try(base, host); page != http.StatusOK || walkie != http.StatusOK || phone != http.StatusSwitchingProtocols {
			t.Errorf("Host %s: page %d, walkie %d, phone %d; want 200, 200, 101", host, page, walkie, phone)
		}
	}
	for _, host := range []string{"evil.example:" + port, "evil.example", "127.0.0.1", "127.0.0.1:1", "127.0.0.1.evil.example:" + port} {
		page, walkie, phone, why := try(base, host)
		if page != http.StatusMisdirectedRequest || walkie != http.StatusMisdirectedRequest || phone != http.StatusMisdirectedRequest {
			t.Errorf("Host %s: page %d, walkie %d, phone %d; want 421 for each", host, page, walkie, phone)
		}
		if !strings.Contains(why, "http://127.0.0.1:"+port+"/") {
			t.Errorf("Host %s: %q; want it to say the address to use", host, why)
		}
	}

	// On every network, students reach her by any name: nothing to check.
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Skipf("cannot listen on 0.0.0.0: %v", err)
	}
	ln.Close()
	everywhere := serveOn(t, "0.0.0.0:0", classroom.Config{})
	if page, walkie, phone, _ := try(everywhere, "teacher.local:8080"); page != http.StatusOK || walkie != http.StatusOK || phone != http.StatusSwitchingProtocols {
		t.Errorf("on 0.0.0.0, Host teacher.local:8080: page %d, walkie %d, phone %d; want 200, 200, 101", page, walkie, phone)
	}
}

// serveOn serves grandma on addr until the test ends, and returns a URL
// of 127.0.0.1 that reaches her.
func serveOn(t *testing.T, addr string, cfg classroom.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listener = ln
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
	return fmt.Sprintf("http://127.0.0.1:%d", ln.Addr().(*net.TCPAddr).Port)
}

// TestCallsForFiles: grandma takes no more calls at once than the open
// files allow, past FileReserve, two a call; and says so.
func TestCallsForFiles(t *testing.T) {
	for _, tc := range []struct{ files, maxCalls, want int }{
		{64, 200, 24},
		{64, 5, 5},
		{1024, 200, 200},
		{10, 200, 1},
		{0, 200, 200}, // read from the system: far above 416 here
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln.Close() // New only looks at its address
		s, err := classroom.New(classroom.Config{Listener: ln, OpenFiles: tc.files, MaxCalls: tc.maxCalls})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.MaxCalls(); got != tc.want && tc.files != 0 {
			t.Errorf("%d open files, --max-calls %d: %d calls at once, want %d", tc.files, tc.maxCalls, got, tc.want)
		}
	}
	if got := classroom.FilesForCalls(classroom.DefaultMaxCalls); got != 2*classroom.DefaultMaxCalls+classroom.FileReserve {
		t.Errorf("FilesForCalls(%d) = %d", classroom.DefaultMaxCalls, got)
	}
}

// outOfFiles is a listener that fails to accept, as a process out of file
// descriptors does (EMFILE), for a while, then accepts again.
type outOfFiles struct {
	net.Listener
	failures atomic.Int64
}

func (l *outOfFiles) Accept() (net.Conn, error) {
	if l.failures.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	return l.Listener.Accept()
}

// TestOutOfFilesLogged: when the process cannot accept a connection for
// want of files, grandma says so in her log (once a second, not on every
// retry) and takes calls again as soon as she can.
func TestOutOfFilesLogged(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	flaky := &outOfFiles{Listener: ln}
	flaky.failures.Store(8) // 5 ms, then twice as long each time: about 1.3 s
	logs := &callLog{}
	base := serveOnListener(t, flaky, classroom.Config{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if d := normalCall(t, base); d > 1300*time.Millisecond+margin {
		t.Errorf("the call took %v", d)
	}
	warnings := strings.Count(logs.String(), "out of open files")
	if warnings < 1 || warnings > 3 {
		t.Errorf("grandma logged running out of files %d times for 8 failures in about 1.3 s; want once a second: %s", warnings, logs)
	}
	if !strings.Contains(logs.String(), `"level":"WARN"`) || !strings.Contains(logs.String(), "too many open files") {
		t.Errorf("the log says: %s; want a warning with the error", logs)
	}
}

// serveOnListener serves grandma on ln until the test ends, and returns
// her URL.
func serveOnListener(t *testing.T, ln net.Listener, cfg classroom.Config) string {
	t.Helper()
	cfg.Listener = ln
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

// countedConn counts a client connection's bytes each way.
type countedConn struct {
	net.Conn
	read, written *atomic.Int64
}

func (c *countedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c *countedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

// countingClient is an HTTP client that keeps its connections (at most
// conns), as a browser does, and counts the bytes on all of them.
func countingClient(t *testing.T, conns int) (client *http.Client, read, written *atomic.Int64, dials *atomic.Int64) {
	read, written, dials = new(atomic.Int64), new(atomic.Int64), new(atomic.Int64)
	tr := &http.Transport{
		MaxConnsPerHost: conns,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			dials.Add(1)
			return &countedConn{Conn: c, read: read, written: written}, nil
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}, read, written, dials
}

// walkieCall plays a whole walkie call by hand on client, one line after
// the other's answer.
func walkieCall(t *testing.T, client *http.Client, base string) {
	t.Helper()
	s := fastScript(t)
	id := wire.NewCallID()
	for _, line := range []string{s.Question, s.Interruption, s.Goodbye} {
		query := ""
		if line == s.Question {
			query = wire.ScriptQuery(s).Encode()
		}
		if got, body := walkiePost(t, client, base, query, id, line); got != http.StatusOK {
			t.Fatalf("%q: %d %s", line, got, body)
		}
	}
}

// TestWalkieBytesPerCall: the bytes grandma logs for a walkie call are
// that call's requests and answers, to their last byte (net/http's
// terminating chunk included), however many calls a kept-alive connection
// carried before, and whichever call's requests share its connections.
func TestWalkieBytesPerCall(t *testing.T) {
	logs := &callLog{}
	base := start(t, classroom.Config{Logger: slog.New(slog.NewJSONHandler(logs, nil))})

	// Three calls one after another on one kept-alive connection: each
	// logs exactly what crossed for it.
	client, read, written, dials := countingClient(t, 1)
	for i := range 3 {
		in0, out0 := written.Load(), read.Load()
		walkieCall(t, client, base)
		c := logs.wait(t, "walkie", i+1, 5*time.Second)[i]
		if in, out := written.Load()-in0, read.Load()-out0; c.BytesIn != in || c.BytesOut != out {
			t.Errorf("call %d on a kept-alive connection: logged %d bytes in, %d out; %d and %d crossed for it", i+1, c.BytesIn, c.BytesOut, in, out)
		}
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("the client opened %d connections, want one kept alive", n)
	}

	// Two tabs, three calls each, at once, sharing a browser's connections:
	// each call counts its own requests (all alike, so each call's bytes in
	// are the same: a request counted to the wrong call would show there),
	// and together they count every byte. Her answers are not all alike:
	// calls at once wait differently, and her record says so.
	client, read, written, _ = countingClient(t, 2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for range 3 {
				walkieCall(t, client, base)
			}
		})
	}
	wg.Wait()
	calls := logs.wait(t, "walkie", 9, 5*time.Second)
	first := calls[0]
	var in, out int64
	for _, c := range calls[3:] {
		in, out = in+c.BytesIn, out+c.BytesOut
		if c.BytesIn != first.BytesIn || c.BytesOut < first.BytesOut*2/3 || c.BytesOut > first.BytesOut*3/2 {
			t.Errorf("a call of two tabs logged %d bytes in, %d out; alone, the same call took %d and %d", c.BytesIn, c.BytesOut, first.BytesIn, first.BytesOut)
		}
	}
	if in != written.Load() || out != read.Load() {
		t.Errorf("two tabs' calls logged %d bytes in and %d out in all; %d and %d crossed", in, out, written.Load(), read.Load())
	}
}
