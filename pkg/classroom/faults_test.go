package classroom_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/classroom"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// fastScript is a whole call in about 30 ms.
func fastScript(t testing.TB) story.Script {
	return calltest.Script(t, story.Options{Speed: story.MaxSpeed})
}

// phoneURL is the WebSocket URL of a phone call to the server at base.
func phoneURL(t testing.TB, base string) string {
	return strings.Replace(base, "http://", "ws://", 1) + fullduplex.Path + "?" + wire.ScriptQuery(fastScript(t)).Encode()
}

// dial opens a WebSocket phone call by hand, with header.
func dial(t testing.TB, base string, header http.Header) (*websocket.Conn, *http.Response, error) {
	if header == nil {
		header = http.Header{}
	}
	header.Set(wire.HeaderVersion, fmt.Sprint(wire.Version))
	return websocket.DefaultDialer.Dial(phoneURL(t, base), header)
}

// closeCode reads from conn until the server closes it, and returns the
// close code it sent.
func closeCode(t *testing.T, conn *websocket.Conn) int {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := conn.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		if err != nil {
			t.Fatalf("the connection ended without a close frame: %v", err)
		}
	}
}

// normalCall checks that a whole phone call still works, and returns how
// long it took.
func normalCall(t *testing.T, base string) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := call.RunRemote(context.Background(), fullduplex.Mode(), call.Config{Script: fastScript(t)}, base); err != nil {
		t.Fatalf("a normal call failed: %v", err)
	}
	return time.Since(start)
}

// TestOrigins: a page from another origin may not call, unless listed; a
// caller that is not a browser (no Origin) may.
func TestOrigins(t *testing.T) {
	base := start(t, classroom.Config{AllowOrigins: []string{"http://teacher.local:8080"}})
	for _, tc := range []struct {
		origin string
		want   int
	}{
		{"http://evil.example", http.StatusForbidden},
		{"http://teacher.local:8080", http.StatusSwitchingProtocols},
		{"", http.StatusSwitchingProtocols},
	} {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		conn, resp, err := dial(t, base, h)
		if resp == nil {
			t.Fatalf("origin %q: no response: %v", tc.origin, err)
		}
		if resp.StatusCode != tc.want {
			t.Errorf("origin %q: status %d, want %d", tc.origin, resp.StatusCode, tc.want)
		}
		if conn != nil {
			conn.Close()
		}
	}
	if _, err := classroom.New(classroom.Config{Listener: nopListener{}, AllowOrigins: []string{"*"}}); err == nil {
		t.Error("an allow-list of everything was accepted")
	}
}

// TestNotWebSocket: a plain GET on the phone's path gets 400, and so do a
// walkie request with no call and one in another protocol version.
func TestBadRequests(t *testing.T) {
	base := start(t, classroom.Config{})
	get := func(url string, h http.Header) *http.Response {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	phone := base + fullduplex.Path + "?" + wire.ScriptQuery(fastScript(t)).Encode()
	if r := get(phone, nil); r.StatusCode != http.StatusBadRequest {
		t.Errorf("plain GET on the phone's path: %s, want 400", r.Status)
	}
	if r := get(base+fullduplex.Path, nil); r.StatusCode != http.StatusBadRequest {
		t.Errorf("a phone call with no script: %s, want 400", r.Status)
	}
	if r := get(base+halfduplex.Path, http.Header{wire.HeaderVersion: {"99"}}); r.StatusCode != http.StatusBadRequest {
		t.Errorf("a walkie request in protocol 99: %s, want 400", r.Status)
	}
	resp, err := http.Post(base+halfduplex.Path, "text/plain", strings.NewReader(strings.Repeat("x", 1<<20)))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("a walkie request with no version and a huge body: %s, want 400", resp.Status)
		}
	}
	normalCall(t, base)
}

// TestBadMessages: an oversized message is closed with 1009, a binary one
// with 1003, a line not in the script with 1002, a text message that is not
// UTF-8 with 1007; the server keeps serving.
func TestBadMessages(t *testing.T) {
	base := start(t, classroom.Config{})
	for _, tc := range []struct {
		name string
		kind int
		data []byte
		want int
	}{
		{"oversized", websocket.TextMessage, []byte(strings.Repeat("x", call.MaxLine+1)), websocket.CloseMessageTooBig},
		{"binary", websocket.BinaryMessage, []byte{1, 2, 3}, websocket.CloseUnsupportedData},
		{"unknown", websocket.TextMessage, []byte("What is the wifi password?"), websocket.CloseProtocolError},
		{"malformed", websocket.TextMessage, []byte{0xff, 0xfe, '{'}, websocket.CloseInvalidFramePayloadData},
	} {
		conn, _, err := dial(t, base, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if err := conn.WriteMessage(tc.kind, tc.data); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := closeCode(t, conn); got != tc.want {
			t.Errorf("%s message: closed with %d, want %d", tc.name, got, tc.want)
		}
		conn.Close()
	}
	normalCall(t, base)
}

// TestTooManyLines: a call that keeps talking is cut off, on the phone and
// on the walkie, so that one call's memory stays bounded.
func TestTooManyLines(t *testing.T) {
	base := start(t, classroom.Config{})
	s := fastScript(t)
	conn, _, err := dial(t, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go func() {
		for range classroom.MaxLines + 5 {
			if conn.WriteMessage(websocket.TextMessage, []byte(s.Interruption)) != nil {
				return
			}
		}
	}()
	if got := closeCode(t, conn); got != websocket.ClosePolicyViolation {
		t.Errorf("a phone call of too many lines: closed with %d, want %d", got, websocket.ClosePolicyViolation)
	}
	normalCall(t, base)
}

// TestSlowloris: connections that drip their headers are closed within
// the header timeout and a second, while a normal call still goes through
// promptly.
func TestSlowloris(t *testing.T) {
	rht := 300 * time.Millisecond
	base := start(t, classroom.Config{ReadHeaderTimeout: rht})
	addr := strings.TrimPrefix(base, "http://")
	const drips = 20
	var wg sync.WaitGroup
	closedAfter := make(chan time.Duration, drips)
	for range drips {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(2)
		opened := time.Now()
		go func() { // drip a header byte every 50 ms
			defer wg.Done()
			_, _ = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n")
			for i := 0; i < 200; i++ {
				if _, err := io.WriteString(conn, "X"); err != nil {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
		go func() { // the server closes it
			defer wg.Done()
			defer conn.Close()
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, _ = io.Copy(io.Discard, bufio.NewReader(conn))
			closedAfter <- time.Since(opened)
		}()
	}
	if d := normalCall(t, base); d > 3*time.Second {
		t.Errorf("a normal call took %v while connections dripped", d)
	}
	wg.Wait()
	close(closedAfter)
	for d := range closedAfter {
		if d > rht+time.Second {
			t.Errorf("a dripping connection was closed only after %v; want within %v", d, rht+time.Second)
		}
	}
}

// TestDeadPeers: a caller that stops reading, and one that reads but never
// answers a ping, are both dropped within the ping period and the pong
// wait, without slowing a normal call.
func TestDeadPeers(t *testing.T) {
	every, wait := 100*time.Millisecond, 200*time.Millisecond
	base := start(t, classroom.Config{PingEvery: every, PongWait: wait})
	s := calltest.Script(t, story.Options{}) // a slow call: it would last 2.6 s
	for _, tc := range []struct {
		name  string
		reads bool
	}{{"stops reading", false}, {"never pongs", true}} {
		conn, _, err := websocket.DefaultDialer.Dial(strings.Replace(base, "http://", "ws://", 1)+fullduplex.Path+"?"+wire.ScriptQuery(s).Encode(),
			http.Header{wire.HeaderVersion: {fmt.Sprint(wire.Version)}})
		if err != nil {
			t.Fatal(err)
		}
		conn.SetPingHandler(func(string) error { return nil }) // no pong
		if err := conn.WriteMessage(websocket.TextMessage, []byte(s.Question)); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if tc.reads {
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			for {
				if _, _, err := conn.ReadMessage(); err != nil {
					break
				}
			}
		} else {
			// Not reading: the connection ends when the server closes it,
			// which the first read after that tells.
			time.Sleep(every + wait + 500*time.Millisecond)
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			for {
				if _, _, err := conn.ReadMessage(); err != nil {
					break
				}
			}
		}
		if d := time.Since(start); d > every+wait+time.Second {
			t.Errorf("a caller that %s was dropped after %v; want within %v", tc.name, d, every+wait+time.Second)
		}
		conn.Close()
	}
	if d := normalCall(t, base); d > 3*time.Second {
		t.Errorf("a normal call took %v", d)
	}
}

// TestMaxCalls: past --max-calls a new call is told to try again, not kept
// waiting.
func TestMaxCalls(t *testing.T) {
	base := start(t, classroom.Config{MaxCalls: 1})
	s := calltest.Script(t, story.Options{})
	conn, _, err := websocket.DefaultDialer.Dial(strings.Replace(base, "http://", "ws://", 1)+fullduplex.Path+"?"+wire.ScriptQuery(s).Encode(),
		http.Header{wire.HeaderVersion: {fmt.Sprint(wire.Version)}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, run := range []remoteRun{remote(halfduplex.Mode()), remote(fullduplex.Mode())} {
		start := time.Now()
		_, err := run(context.Background(), call.Config{Script: fastScript(t)}, base)
		if err == nil || !strings.Contains(err.Error(), "try again") {
			t.Errorf("a call past the limit: %v; want one saying to try again", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("a call past the limit took %v to be refused", d)
		}
	}
}

// TestConnectCycles: 2,000 connections opened and closed leave no
// goroutine behind.
func TestConnectCycles(t *testing.T) {
	base := start(t, classroom.Config{})
	addr := strings.TrimPrefix(base, "http://")
	before := runtime.NumGoroutine()
	for i := range 2000 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		if i%2 == 1 {
			_, _ = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n")
		}
		conn.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		t.Errorf("%d goroutines after 2,000 connect/close cycles, %d before", n, before)
	}
	normalCall(t, base)
}

// nopListener is a listener that is never used.
type nopListener struct{ net.Listener }

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// TestHungUpFreesItsPlace: a student who quits mid-call does not keep a
// place under --max-calls for long: on the phone grandma notices the
// connection close at once; on the walkie, where a caller may open a new
// connection for each line, once the grandchild has said nothing for longer
// than the script allows and its grace.
func TestHungUpFreesItsPlace(t *testing.T) {
	cfg := classroom.Config{MaxCalls: 1, SilenceGrace: 500 * time.Millisecond}
	base := start(t, cfg)
	script := calltest.Script(t, story.Options{Pace: 200 * time.Millisecond})
	silence, _ := cfg.Bounds(script)
	for _, tc := range []struct {
		mode string
		run  remoteRun
		// bound is how long after the hang-up the place is free again.
		bound time.Duration
	}{
		{"walkie", remote(halfduplex.Mode()), silence},
		{"phone", remote(fullduplex.Mode()), 0},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, err := tc.run(ctx, call.Config{Script: script}, base)
		cancel()
		if err == nil {
			t.Fatalf("%s: the call was not stopped", tc.mode)
		}
		hungUp := time.Now()
		deadline := hungUp.Add(tc.bound + 3*time.Second) // a busy machine's margin
		for {
			_, err := tc.run(context.Background(), call.Config{Script: fastScript(t)}, base)
			if err == nil {
				break
			}
			if !strings.Contains(err.Error(), "try again") || time.Now().After(deadline) {
				t.Fatalf("%s: a call %v after one that hung up: %v", tc.mode, time.Since(hungUp), err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("%s: the place was free again %v after the hang-up (bound %v)", tc.mode, time.Since(hungUp), tc.bound)
	}
}

// TestWalkieLimits: a walkie line over the size limit gets 413, a request
// in another protocol 400, and too many lines in one call 429.
func TestWalkieLimits(t *testing.T) {
	base := start(t, classroom.Config{})
	s := fastScript(t)
	post := func(query, body, callID string, version string) int {
		req, err := http.NewRequest(http.MethodPost, base+halfduplex.Path+query, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(wire.HeaderVersion, version)
		req.Header.Set(wire.HeaderCall, callID)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	v := fmt.Sprint(wire.Version)
	id := wire.NewCallID()
	if got := post("?"+wire.ScriptQuery(s).Encode(), strings.Repeat("x", call.MaxLine+1), id, v); got != http.StatusRequestEntityTooLarge {
		t.Errorf("an oversized line: %d, want 413", got)
	}
	if got := post("?"+wire.ScriptQuery(s).Encode(), s.Question, wire.NewCallID(), "0"); got != http.StatusBadRequest {
		t.Errorf("protocol 0: %d, want 400", got)
	}
	if got := post("", s.Question, "not-an-id", v); got != http.StatusBadRequest {
		t.Errorf("no valid call id: %d, want 400", got)
	}
	if got := post("?"+wire.ScriptQuery(s).Encode(), s.Question, id, v); got != http.StatusOK {
		t.Fatalf("the question: %d, want 200", got)
	}
	saw429 := false
	for range classroom.MaxLines + 2 {
		if post("", s.Interruption, id, v) == http.StatusTooManyRequests {
			saw429 = true
			break
		}
	}
	if !saw429 {
		t.Errorf("%d lines in one call were all taken; want 429 past %d", classroom.MaxLines+2, classroom.MaxLines)
	}
	normalCall(t, base)
}
