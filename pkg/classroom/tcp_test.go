package classroom_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/internal/classroomtest"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/class"
	"github.com/duplexdemo/duplexdemo/pkg/classroom"
	"github.com/duplexdemo/duplexdemo/pkg/rawtcp"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// remoteSpeed plays a remote call's script twice as fast: grandma's clock
// starts when the call reaches her, after its set-up, and a busy machine
// can add a few hundred ms to that; at 4x speed her afterthought, 150 ms
// before the goodbye, then came after it (seen beside six busy programs).
const remoteSpeed = 2

// TestTCPRemoteCall: a raw TCP call to a grandma served alone plays the
// whole script, both sides joined; its question waits for the TCP
// handshake and the upgrade's round trip; its bytes each way are what
// grandma's server read and wrote on the connection (her log, and a tap
// under it), less the line that handed her record over, found where it
// crossed.
func TestTCPRemoteCall(t *testing.T) {
	for _, tc := range []struct {
		name            string
		client, grandma time.Duration // the emulated link's latency on each side
	}{
		{"loopback", 0, 0},
		{"client latency", 20 * time.Millisecond, 0},
		{"both latencies", 15 * time.Millisecond, 15 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &callLog{}
			taps := &tapListener{}
			base := serveTapped(t, taps, classroom.Config{Latency: tc.grandma, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
			s := calltest.Script(t, story.Options{Speed: remoteSpeed})
			res, err := call.RunRemote(context.Background(), rawtcp.Mode(), call.Config{Script: s, Latency: tc.client}, base)
			if err != nil {
				t.Fatal(err)
			}
			tl := res.Timeline
			if res.Alignment == nil {
				t.Fatal("no alignment reported")
			}
			var said [2]int
			for _, m := range tl.Messages {
				if !m.Sent || !m.Heard || m.HeardAt < m.SentAt {
					t.Errorf("the %s's %s: sent %v at %v, heard %v at %v; want both, in that order", m.From, m.Label, m.Sent, m.SentAt, m.Heard, m.HeardAt)
				}
				said[m.From]++
			}
			if want := [2]int{3, len(s.Story) + 3}; said != want {
				t.Errorf("lines said (grandchild, grandma): %v, want %v", said, want)
			}
			// Both directions at once: grandma hears the interruption
			// mid-story, and her afterthought goes unasked.
			interruption := calltest.Said(t, tl, story.LabelInterruption)
			if last := calltest.Last(tl, story.LabelStory); interruption.HeardAt > last.SentAt {
				t.Errorf("grandma heard the interruption at %v, after her last sentence at %v", interruption.HeardAt, last.SentAt)
			}
			if a := calltest.Said(t, tl, story.LabelAfterthought); a.Reason != timeline.ReasonChannelBusy {
				t.Errorf("the afterthought's reason %q; want %q, as in one process", a.Reason, timeline.ReasonChannelBusy)
			}
			// The set-up: the TCP handshake (a round trip of the
			// grandchild's link), and the upgrade's (one of each side's).
			q := calltest.Said(t, tl, story.LabelQuestion)
			if setUp := 4*tc.client + 2*tc.grandma; q.Reason != timeline.ReasonConnecting || q.Waited() < setUp {
				t.Errorf("the question waited %v (%s); want at least %v (%s): the handshake and the upgrade", q.Waited(), q.Reason, setUp, timeline.ReasonConnecting)
			}

			logged := logs.wait(t, "tcp", 1, 10*time.Second)[0]
			if logged.Outcome != "ok" {
				t.Errorf("grandma logged the call as %q", logged.Outcome)
			}
			if len(res.PerConnection) != 1 || res.Connections != 1 {
				t.Fatalf("connections: %d (%+v); want one", res.Connections, res.PerConnection)
			}
			out := taps.written(res.PerConnection[0].ClientPort)
			if !strings.HasPrefix(string(out), "HTTP/1.1 101 Switching Protocols\r\n") {
				t.Errorf("grandma's first bytes: %.40q; want her 101", out)
			}
			rec := recordIn(t, out)
			if rec == nil {
				t.Fatal("grandma did not hand her record over")
			}
			handOver := int64(len(rec) + 1) // her line, and its newline
			if !strings.HasSuffix(string(out), s.Farewell+"\n"+string(rec)+"\n") {
				t.Errorf("grandma's last bytes: %q; want her farewell, then her record's line", out[max(0, len(out)-200):])
			}
			if got, want := res.WireBytes[timeline.Client], logged.BytesIn; got != want {
				t.Errorf("grandchild→grandma: the call counts %d bytes, grandma read %d", got, want)
			}
			if int64(len(out)) != logged.BytesOut {
				t.Errorf("grandma logged %d bytes out; her server wrote %d", logged.BytesOut, len(out))
			}
			if got, want := res.WireBytes[timeline.Server], logged.BytesOut-handOver; got != want {
				t.Errorf("grandma→grandchild: the call counts %d bytes; grandma wrote %d, %d of them her record's: want %d", got, logged.BytesOut, handOver, want)
			}
			if res.PerConnection[0].Bytes != res.WireBytes {
				t.Errorf("the connection's bytes %v, the call's %v", res.PerConnection[0].Bytes, res.WireBytes)
			}
			var payload [2]int64
			for _, m := range tl.Messages {
				payload[m.From] += int64(len(m.Text)) + 1 // and its newline
			}
			for side, got := range res.WireBytes {
				if got <= payload[side] {
					t.Errorf("%v: %d bytes on the wire, no more than its lines' %d: the upgrade is missing", timeline.Side(side), got, payload[side])
				}
			}
		})
	}
}

// TestTCPReported: a raw TCP call made with a student's name is reported to
// the class, which knows its mode.
func TestTCPReported(t *testing.T) {
	base, room := classServer(t, classroom.Config{})
	student := class.NewName()
	res, err := call.RunRemote(context.Background(), rawtcp.Mode(), call.Config{Script: calltest.Script(t, story.Options{Speed: remoteSpeed}), Student: student}, base)
	if err != nil {
		t.Fatal(err)
	}
	if res.Reported != 1 {
		t.Fatalf("reported as call %d, want 1", res.Reported)
	}
	calls := room.Record().Calls
	if len(calls) != 1 || calls[0].Mode != rawtcp.Mode().Key || calls[0].Student != student {
		t.Fatalf("the class has %+v; want the student's one %s call", calls, rawtcp.Mode().Key)
	}
	if got, want := calls[0].Summary.Bytes.ClientToServer, res.WireBytes[timeline.Client]; got != want {
		t.Errorf("bytes from the grandchild: grandma counted %d, the grandchild %d", got, want)
	}
}

// lines is a raw TCP call by hand: the connection, switched to lines.
type lines struct {
	conn *net.TCPConn
	r    *bufio.Reader
}

// upgradeRequest is the request that asks grandma to switch to lines,
// with the script's query, and the extra header lines given.
func upgradeRequest(base, query string, extra ...string) string {
	u, _ := url.Parse(base)
	req := "GET " + rawtcp.Path + "?" + query + " HTTP/1.1\r\nHost: " + u.Host + "\r\n"
	for _, h := range extra {
		req += h + "\r\n"
	}
	return req + "\r\n"
}

// askLines sends req on a new connection to base and returns the
// connection and grandma's answer.
func askLines(t *testing.T, base, req string) (*lines, *http.Response) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	l := &lines{conn: c.(*net.TCPConn), r: bufio.NewReader(c)}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(l.r, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Time{})
	return l, resp
}

// callLines switches a new connection to base to lines, for script s.
func callLines(t *testing.T, base string, s story.Script) *lines {
	t.Helper()
	l, resp := askLines(t, base, upgradeRequest(base, wire.ScriptQuery(s).Encode(), "Connection: Upgrade", "Upgrade: "+rawtcp.Protocol))
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("grandma answered %s; want 101", resp.Status)
	}
	return l
}

// hungUp reads until grandma ends the connection, within d, and says how
// long that took.
func (l *lines) hungUp(t *testing.T, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = l.conn.SetReadDeadline(start.Add(d))
	_, err := io.Copy(io.Discard, l.r)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("grandma did not hang up within %v", d)
	}
	return time.Since(start)
}

// TestTCPRefusals: a request grandma will not switch to lines gets one
// clear answer, with its status.
func TestTCPRefusals(t *testing.T) {
	logs := &callLog{}
	base := start(t, classroom.Config{MaxCalls: 1, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	good := wire.ScriptQuery(fastScript(t)).Encode()
	upgrade := []string{"Connection: Upgrade", "Upgrade: " + rawtcp.Protocol}
	for _, tc := range []struct {
		name   string
		req    string
		status int
		says   string
	}{
		{"no upgrade", upgradeRequest(base, good), http.StatusUpgradeRequired, "Upgrade: " + rawtcp.Protocol},
		{"another protocol", upgradeRequest(base, good, "Connection: Upgrade", "Upgrade: websocket"), http.StatusUpgradeRequired, "switch the connection to lines"},
		{"no script", upgradeRequest(base, "", upgrade...), http.StatusBadRequest, "grandma cannot play that script"},
		{"a bad script", upgradeRequest(base, strings.Replace(good, "pace=", "pace=x", 1), upgrade...), http.StatusBadRequest, "pace"},
		{"another origin", upgradeRequest(base, good, append(upgrade, "Origin: http://elsewhere.example")...), http.StatusForbidden, "elsewhere.example"},
		{"a line before the answer", upgradeRequest(base, good, upgrade...) + story.Question + "\n", http.StatusBadRequest, "before grandma answered the upgrade"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, resp := askLines(t, base, tc.req)
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1000))
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.says) || strings.Count(strings.TrimSpace(string(body)), "\n") != 0 {
				t.Errorf("answered %s: %q; want %d and one line that says %q", resp.Status, body, tc.status, tc.says)
			}
			if resp.Header.Get(wire.HeaderVersion) == "" {
				t.Errorf("the refusal does not say it is grandma's (%s)", wire.HeaderVersion)
			}
			if tc.status == http.StatusUpgradeRequired && resp.Header.Get("Upgrade") != rawtcp.Protocol {
				t.Errorf("426 with Upgrade %q; want %q", resp.Header.Get("Upgrade"), rawtcp.Protocol)
			}
		})
	}
	t.Run("busy", func(t *testing.T) {
		// She is on a call, as many as she takes: once the refused
		// line-before-the-answer has left her place, which a busy machine
		// may take a moment to do.
		var held *lines
		for deadline := time.Now().Add(5 * time.Second); held == nil; {
			l, resp := askLines(t, base, upgradeRequest(base, wire.ScriptQuery(calltest.Script(t, story.Options{})).Encode(), upgrade...))
			switch {
			case resp.StatusCode == http.StatusSwitchingProtocols:
				held = l
			case resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline):
				t.Fatalf("grandma answered %s; want 101", resp.Status)
			default:
				l.conn.Close()
				time.Sleep(20 * time.Millisecond)
			}
		}
		_, resp := askLines(t, base, upgradeRequest(base, good, upgrade...))
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("a call past the limit: %s, Retry-After %q; want 503 and when to try again", resp.Status, resp.Header.Get("Retry-After"))
		}
		// The grandchild is told the same, in one error.
		_, err := call.RunRemote(context.Background(), rawtcp.Mode(), call.Config{Script: fastScript(t)}, base)
		t.Logf("the grandchild: %v", err)
		if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "try again") {
			t.Errorf("calling a busy grandma: %v; want her 503 and what to do", err)
		}
		held.conn.Close()
	})
}

// TestTCPBadPeers: grandma hangs up on a caller who goes silent past her
// script, says a line too long or too many lines, outlasts her script, or
// cuts the connection mid-call; each is logged with why, and frees its
// place.
func TestTCPBadPeers(t *testing.T) {
	logs := &callLog{}
	cfg := classroom.Config{SilenceGrace: 300 * time.Millisecond, CallGrace: 20 * time.Second, MaxCalls: 1, Logger: slog.New(slog.NewJSONHandler(logs, nil))}
	base := start(t, cfg)
	s := fastScript(t)
	silence, _ := cfg.Bounds(s)
	n := 0
	for _, tc := range []struct {
		name    string
		do      func(l *lines) error
		outcome string
	}{
		{"silence", func(*lines) error { return nil }, fmt.Sprintf("dropped: the grandchild said nothing for %v", silence)},
		{"a line too long", func(l *lines) error {
			_, err := l.conn.Write([]byte(strings.Repeat("x", call.MaxLine+1) + "\n"))
			return err
		}, fmt.Sprintf("dropped: a line over %d bytes", call.MaxLine)},
		{"too many lines", func(l *lines) error {
			_, err := l.conn.Write([]byte(strings.Repeat(s.Question+"\n", classroom.MaxLines+1)))
			return err
		}, fmt.Sprintf("dropped: too many lines: a call says at most %d", classroom.MaxLines)},
		{"a cut mid-call", func(l *lines) error {
			if _, err := l.conn.Write([]byte(s.Question + "\n")); err != nil {
				return err
			}
			if _, err := l.r.ReadString('\n'); err != nil { // her first sentence
				return err
			}
			return l.conn.Close()
		}, "dropped: the grandchild hung up before her goodbye"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := callLines(t, base, s)
			if err := tc.do(l); err != nil {
				t.Fatal(err)
			}
			if tc.name != "a cut mid-call" {
				if d := l.hungUp(t, silence+2*margin); tc.name == "silence" && d < silence-100*time.Millisecond {
					t.Errorf("a silent caller was dropped after %v; want %v", d, silence)
				}
			}
			n++
			if got := logs.wait(t, "tcp", n, 5*time.Second)[n-1].Outcome; got != tc.outcome {
				t.Errorf("logged as %q, want %q", got, tc.outcome)
			}
		})
	}
	if _, err := call.RunRemote(context.Background(), rawtcp.Mode(), call.Config{Script: s}, base); err != nil {
		t.Errorf("a normal call after them (one at a time): %v", err)
	}
}

// TestTCPCallOutlastsItsScript: a caller who keeps talking and never says
// goodbye is hung up when the call outlasts its script.
func TestTCPCallOutlastsItsScript(t *testing.T) {
	logs := &callLog{}
	cfg := classroom.Config{SilenceGrace: 10 * time.Second, CallGrace: 300 * time.Millisecond, Logger: slog.New(slog.NewJSONHandler(logs, nil))}
	base := start(t, cfg)
	s := fastScript(t)
	_, whole := cfg.Bounds(s)
	l := callLines(t, base, s)
	if _, err := l.conn.Write([]byte(s.Question + "\n")); err != nil {
		t.Fatal(err)
	}
	if d := l.hungUp(t, whole+2*margin); d < whole-100*time.Millisecond {
		t.Errorf("hung up after %v; want once the call outlasted %v", d, whole)
	}
	if got := logs.wait(t, "tcp", 1, 5*time.Second)[0].Outcome; !strings.HasPrefix(got, "dropped: the call outlasted its script") {
		t.Errorf("logged as %q", got)
	}
}

// TestTCPShutdownMidCall: stopping the server mid-call hangs the raw TCP
// call up at once: Serve returns within a second, and the grandchild gets
// one error that says what happened.
func TestTCPShutdownMidCall(t *testing.T) {
	srv := classroomtest.Start(t, classroom.Config{})
	errs := make(chan error, 1)
	go func() {
		_, err := call.RunRemote(context.Background(), rawtcp.Mode(), call.Config{Script: calltest.Script(t, story.Options{Pace: time.Second})}, srv.URL)
		errs <- err
	}()
	time.Sleep(500 * time.Millisecond) // mid-story
	took, err := srv.Stop(3 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if took > time.Second+margin/2 {
		t.Errorf("Serve took %v to return; want about a second at most", took)
	}
	select {
	case err := <-errs:
		t.Logf("the grandchild: %v", err)
		if err == nil || !strings.Contains(err.Error(), "stopped mid-call") {
			t.Errorf("the call ended with %v; want it to say grandma stopped mid-call", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the call went on after the server stopped")
	}
}

// TestTCPNotGrandma: a raw TCP call to a web server that is not grandma
// says so, without its page; one to another version of grandma says what
// she answered.
func TestTCPNotGrandma(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<!DOCTYPE html><p>not found</p>", http.StatusNotFound)
	}))
	defer web.Close()
	_, err := call.RunRemote(context.Background(), rawtcp.Mode(), call.Config{Script: fastScript(t)}, web.URL)
	if err == nil || !strings.Contains(err.Error(), "is not duplexdemo serve") || strings.Contains(err.Error(), "DOCTYPE") {
		t.Errorf("calling a web server: %v; want it to say it is not duplexdemo serve, without its page", err)
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(wire.HeaderVersion, "2")
		http.Error(w, "grandma cannot play that script: the grandchild speaks duplexdemo protocol 1", http.StatusBadRequest)
	}))
	defer other.Close()
	_, err = call.RunRemote(context.Background(), rawtcp.Mode(), call.Config{Script: fastScript(t)}, other.URL)
	if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "protocol") {
		t.Errorf("calling another version: %v; want what she answered", err)
	}
}
