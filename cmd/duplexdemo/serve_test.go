package main

import (
	"github.com/duplexdemo/duplexdemo/internal/binarytest"
	"github.com/duplexdemo/duplexdemo/pkg/class"

	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duplexdemo/duplexdemo/internal/syncbuf"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/classroom"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
	"github.com/duplexdemo/duplexdemo/pkg/modes"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/view/report"
	"github.com/duplexdemo/duplexdemo/pkg/webtransport"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// server is a `duplexdemo serve` process.
type server struct {
	cmd            *exec.Cmd
	url            string
	stdout, stderr *syncbuf.Buffer
	done           chan error
}

// startServer runs `duplexdemo serve` on a free port of 127.0.0.1 with the
// extra args, and stops it when the test ends.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	return startServerCmd(t, exec.Command(binarytest.Binary(t), append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...))
}

// startServerCmd runs cmd, which runs `duplexdemo serve` on a free port of
// 127.0.0.1 (itself, or by exec), and stops it when the test ends.
func startServerCmd(t *testing.T, cmd *exec.Cmd) *server {
	t.Helper()
	s := &server{cmd: cmd, stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = s.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	addr := regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`)
	for lines.Scan() {
		_, _ = s.stdout.Write([]byte(lines.Text() + "\n"))
		if m := addr.FindStringSubmatch(lines.Text()); m != nil {
			s.url = "http://" + m[1]
			break
		}
	}
	go func() {
		for lines.Scan() { // what the scanner holds, then the rest
			_, _ = s.stdout.Write([]byte(lines.Text() + "\n"))
		}
		_, _ = io.Copy(io.Discard, stdout)
		s.done <- cmd.Wait()
	}()
	if s.url == "" {
		_ = cmd.Process.Kill()
		t.Fatalf("serve did not say where it listens; stderr: %s", s.stderr)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(3 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("serve did not stop within 3s of SIGTERM")
		}
	})
	return s
}

// TestTwoProcesses runs grandma in one process and each kind of call in
// others, as a classroom does, and checks the merged record of each call:
// both sides, the orderings of the one-process calls, and an alignment of
// the clocks with its uncertainty.
func TestTwoProcesses(t *testing.T) {
	srv := startServer(t, "--log-format", "json")
	for _, mode := range []string{"walkie", "phone"} {
		out, err := exec.Command(binarytest.Binary(t), mode, "--server", srv.url, "--json", "--speed", "4", "--latency", "10ms").Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("%s --server: %v: %s", mode, err, ee.Stderr)
			}
			t.Fatal(err)
		}
		var r report.Call
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if r.Server != srv.url || r.ClockAlignment == nil {
			t.Fatalf("%s: server %q, alignment %v; want both reported", mode, r.Server, r.ClockAlignment)
		}
		if u := r.ClockAlignment.UncertaintyMS; u <= 0 || u > 1000 {
			t.Errorf("%s: alignment uncertainty %v ms", mode, u)
		}
		sides := map[string]int{}
		for _, e := range r.Events {
			sides[e.Side]++
		}
		if sides["client"] == 0 || sides["server"] == 0 {
			t.Errorf("%s: events per side %v; want both sides", mode, sides)
		}
		in := r.Summary.Interruption
		if in.SentAtMS == nil || in.HeardAtMS == nil || *in.HeardAtMS < *in.SentAtMS {
			t.Fatalf("%s: the interruption %+v was not sent, then heard", mode, in)
		}
		switch mode {
		case "walkie":
			if *in.WaitedMS < 50 {
				t.Errorf("walkie: the interruption waited only %v ms", *in.WaitedMS)
			}
		case "phone":
			if *in.WaitedMS > 20 {
				t.Errorf("phone: the interruption waited %v ms", *in.WaitedMS)
			}
		}
	}
	// One JSON line per call, with what a teacher needs to know of it, and
	// one per call reported to the class, with its student.
	logged := map[string]bool{}
	reported := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(srv.stderr.String()), "\n") {
		var entry struct {
			Msg, Mode, Peer, Outcome, Student string
			ID                                int
			DurationMS                        int64 `json:"duration_ms"`
			BytesIn                           int64 `json:"bytes_in"`
			BytesOut                          int64 `json:"bytes_out"`
			ClassCall                         int   `json:"class_call"`
		}
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("a log line that is not JSON: %q", line)
		}
		if entry.Msg == "reported" {
			if !class.ValidName(entry.Student) || entry.ID == 0 || entry.ClassCall == 0 {
				t.Errorf("a report's log line lacks something: %s", line)
			}
			reported[entry.Mode] = true
			continue
		}
		if entry.ID == 0 || entry.Peer == "" || entry.DurationMS <= 0 || entry.BytesIn <= 0 || entry.BytesOut <= 0 || entry.Outcome != "ok" {
			t.Errorf("a call's log line lacks something: %s", line)
		}
		logged[entry.Mode] = true
	}
	if !logged["walkie"] || !logged["phone"] || !reported["walkie"] || !reported["phone"] {
		t.Errorf("the server logged calls of %v and reports of %v; want walkie and phone in both", logged, reported)
	}
}

// TestServeShutdown signals the server in the middle of a phone call: it
// exits within a second, and the caller hears grandma hang up with 1001.
func TestServeShutdown(t *testing.T) {
	srv := startServer(t)
	call := exec.Command(binarytest.Binary(t), "phone", "--server", srv.url, "--pace", "1s")
	var callErr bytes.Buffer
	call.Stderr = &callErr
	stdout, err := call.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := call.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	for lines.Scan() && !strings.Contains(lines.Text(), "hears") {
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	sent := time.Now()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-srv.done:
		if d := time.Since(sent); d > time.Second {
			t.Errorf("serve took %v to exit after SIGTERM; want under a second", d)
		}
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM; want 0", err)
		}
		srv.done <- err // for the cleanup
	case <-time.After(3 * time.Second):
		t.Fatal("serve did not exit within 3s of SIGTERM")
	}
	err = call.Wait()
	if err == nil {
		t.Fatal("the phone call ended well, though grandma went away mid-call")
	}
	if msg := callErr.String(); !strings.Contains(msg, "1001") {
		t.Errorf("the caller says %q; want grandma's going away (1001)", msg)
	}
}

// TestServeBadInput: bad flags for serve, and for calling a server, get one
// line and exit status 2, before anything listens or dials.
func TestServeBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"serve", "--listen", "8080"}, "host:port"},
		{[]string{"serve", "--listen", ":99999"}, "host:port"},
		{[]string{"serve", "--max-calls", "0"}, "--max-calls"},
		{[]string{"serve", "--log-format", "xml"}, "--log-format"},
		{[]string{"serve", "--allow-origin", "*"}, "never everything"},
		{[]string{"serve", "--latency", "1h"}, "--latency"},
		{[]string{"walkie", "--server", "ftp://x"}, "--server"},
		{[]string{"phone", "--server", "http://host:80/path"}, "--server"},
	} {
		_, _, err := run(t, false, nil, c.args...)
		var stderr bytes.Buffer
		code := exitCode(err, &stderr)
		if msg := stderr.String(); code != 2 || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, c.says) {
			t.Errorf("%v: exit %d, message %q; want exit 2 and one line naming %s", c.args, code, msg, c.says)
		}
	}
}

// TestCallNobody: calling a server that is not there says so in one line.
func TestCallNobody(t *testing.T) {
	srv := startServer(t)
	url := srv.url
	_ = srv.cmd.Process.Signal(syscall.SIGTERM)
	err := <-srv.done
	srv.done <- err
	deps, _, _ := testDeps(false, nil)
	err = execute(deps, "walkie", "--server", url)
	var stderr bytes.Buffer
	if code := exitCode(err, &stderr); code != 1 || !strings.Contains(stderr.String(), "is duplexdemo serve running there") {
		t.Errorf("exit %d, %q; want 1 and a line asking whether serve is running", code, stderr.String())
	}
}

// TestAnnounce: on loopback, serve says so and prints the commands; on
// every network, it warns on stderr.
func TestAnnounce(t *testing.T) {
	var out, errOut bytes.Buffer
	announce(&out, &errOut, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, 8081, 0)
	if !strings.Contains(out.String(), "this machine only") || !strings.Contains(out.String(), "walkie --server http://127.0.0.1:8080") || errOut.Len() != 0 {
		t.Errorf("on loopback: %q, %q", out.String(), errOut.String())
	}
	for _, m := range modes.All() {
		if m.Remote != nil && !strings.Contains(out.String(), m.Key) {
			t.Errorf("on loopback, serve does not say students may call in %s: %q", m.Key, out.String())
		}
		if m.Datagrams && !strings.Contains(out.String(), m.Name+" comes to UDP port 8081") {
			t.Errorf("on loopback, serve does not say where %s is: %q", m.Name, out.String())
		}
	}
	out.Reset()
	announce(&out, &errOut, &net.TCPAddr{IP: net.IPv4zero, Port: 8080}, 8080, 0)
	if strings.Count(errOut.String(), "\n") != 1 || !strings.Contains(errOut.String(), "warning") {
		t.Errorf("on every network, stderr says %q; want one warning line", errOut.String())
	}
	if !strings.Contains(out.String(), "every network") {
		t.Errorf("on every network: %q", out.String())
	}
}

// phoneURL is the WebSocket address of a phone call to the server at base,
// for script sc.
func phoneURL(base string, sc story.Script) string {
	return "ws" + strings.TrimPrefix(base, "http") + fullduplex.Path + "?" + wire.ScriptQuery(sc).Encode()
}

// askGrandma says the question of a new walkie call for script sc and
// returns the answer's status, reading the whole answer.
func askGrandma(t *testing.T, base string, sc story.Script) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+halfduplex.Path+"?"+wire.ScriptQuery(sc).Encode(), strings.NewReader(sc.Question))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(wire.HeaderVersion, strconv.Itoa(wire.Version))
	req.Header.Set(wire.HeaderCall, wire.NewCallID())
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// TestServeSilentCallers: with --max-calls 5, five callers that answer
// grandma's pings but never speak (forgotten tabs) keep new callers out no
// longer than their script allows and the stated grace
// (classroom.SilenceGrace), at serve's own settings: then each is hung up
// with 1008 and a reason, and new callers get through.
func TestServeSilentCallers(t *testing.T) {
	srv := startServer(t, "--max-calls", "5", "--log-format", "json")
	sc, err := story.New(story.Options{Speed: story.MaxSpeed})
	if err != nil {
		t.Fatal(err)
	}
	bound := sc.GoodbyeAt + classroom.SilenceGrace
	const margin = 3 * time.Second // a busy machine's
	opened := time.Now()
	closes := make(chan error, 5)
	for range 5 {
		conn, _, err := websocket.DefaultDialer.Dial(phoneURL(srv.url, sc), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		go func() { // gorilla answers each ping while this reads
			_ = conn.SetReadDeadline(time.Now().Add(bound + 2*margin))
			for {
				if _, _, err := conn.ReadMessage(); err != nil {
					closes <- err
					return
				}
			}
		}()
	}
	var freed time.Duration
	for {
		got := askGrandma(t, srv.url, sc)
		if got == http.StatusOK {
			freed = time.Since(opened)
			break
		}
		if got != http.StatusServiceUnavailable || time.Since(opened) > bound+margin {
			t.Fatalf("a new caller %v after five silent ones came: %d; want 503 until %v, then 200", time.Since(opened), got, bound)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("five silent callers kept new ones out for %v (bound %v: the script's %v and the grace's %v)", freed, bound, sc.GoodbyeAt, classroom.SilenceGrace)
	if freed < bound-time.Second {
		t.Errorf("new callers got through %v after the silent ones came, before the bound %v: is the grace what the docs say?", freed, bound)
	}
	for range 5 {
		var ce *websocket.CloseError
		if err := <-closes; !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || ce.Text == "" {
			t.Errorf("a silent caller's call ended with %v; want a close frame, 1008 and a reason", err)
		}
	}
}

// TestServeOutOfFiles runs serve with room for 64 open files (ulimit -n
// 64, as a small container may give it): it warns at start that
// --max-calls is more than those allow and takes fewer calls at once; 60
// phone and 60 walkie callers at once each complete their call or are told
// to try again (none is left waiting); when idle connections use up the
// files, it logs that it cannot accept, and recovers once they go.
func TestServeOutOfFiles(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to lower the open files' limit with")
	}
	const files = 64
	calls := classroom.CallsForFiles(files)
	srv := startServerCmd(t, exec.Command("sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, files),
		binarytest.Binary(t), "serve", "--listen", "127.0.0.1:0", "--log-format", "json"))
	warning := fmt.Sprintf("grandma takes at most %d calls at once", calls)
	for deadline := time.Now().Add(2 * time.Second); !strings.Contains(srv.stderr.String(), warning) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond) // stderr is copied on its own
	}
	if !strings.Contains(srv.stderr.String(), warning) {
		t.Errorf("serve with %d open files says %q; want a warning that %s", files, srv.stderr.String(), warning)
	}

	sc, err := story.New(story.Options{Speed: 2}) // long enough that the calls overlap
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		mode string
		err  error
	}
	outcomes := make(chan outcome, 120)
	var wg sync.WaitGroup
	ready := make(chan struct{})
	for i := range 120 {
		m := halfduplex.Mode()
		if i%2 == 1 {
			m = fullduplex.Mode()
		}
		wg.Go(func() {
			<-ready
			_, err := call.RunRemote(context.Background(), m, call.Config{Script: sc}, srv.url)
			outcomes <- outcome{m.Key, err}
		})
	}
	close(ready)
	wg.Wait()
	close(outcomes)
	completed := map[string]int{}
	for o := range outcomes {
		switch {
		case o.err == nil:
			completed[o.mode]++
		case !strings.Contains(o.err.Error(), "try again"):
			t.Errorf("a %s call: %v; want it to complete or be told to try again", o.mode, o.err)
		}
	}
	t.Logf("of 60 walkie and 60 phone calls at once, with %d open files (%d calls at once): completed %v, the others told to try again", files, calls, completed)
	if completed["walkie"]+completed["phone"] == 0 {
		t.Error("no call completed")
	}

	// Idle connections use up the files: serve says so, and recovers.
	var idle []net.Conn
	for range files {
		c, err := net.Dial("tcp", strings.TrimPrefix(srv.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(srv.stderr.String(), "out of open files") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(srv.stderr.String(), "out of open files") {
		t.Errorf("%d idle connections to a serve with %d open files: nothing in its log says it could not accept one", files, files)
	}
	for _, c := range idle {
		c.Close()
	}
	if _, err := call.RunRemote(context.Background(), fullduplex.Mode(), call.Config{Script: sc}, srv.url); err != nil {
		t.Errorf("a call once the idle connections have gone: %v", err)
	}
}

// TestServeWebTransport: serve prints its UDP port beside its TCP one, and
// a WebTransport call to it plays to its end, both sides joined; stopped
// mid-call, it exits within a second and the caller hears grandma go.
func TestServeWebTransport(t *testing.T) {
	srv := startServer(t)
	for deadline := time.Now().Add(2 * time.Second); !strings.Contains(srv.stdout.String(), "UDP port") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(srv.stdout.String(), "WebTransport comes to UDP port") {
		t.Errorf("serve does not say where WebTransport is: %s", srv.stdout)
	}
	sc, err := story.New(story.Options{Speed: 4})
	if err != nil {
		t.Fatal(err)
	}
	res, err := call.RunRemote(context.Background(), webtransport.Mode(), call.Config{Script: sc, Latency: 10 * time.Millisecond}, srv.url)
	if err != nil {
		t.Fatal(err)
	}
	if res.Alignment == nil || res.Connections != 1 {
		t.Errorf("alignment %v, connections %d; want both sides joined, on QUIC's one connection", res.Alignment, res.Connections)
	}

	slow, err := story.New(story.Options{Pace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := call.RunRemote(context.Background(), webtransport.Mode(), call.Config{Script: slow}, srv.url)
		done <- err
	}()
	time.Sleep(1500 * time.Millisecond) // mid-story
	sent := time.Now()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-srv.done:
		if d := time.Since(sent); d > time.Second {
			t.Errorf("serve took %v to exit after SIGTERM; want under a second", d)
		}
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM; want 0", err)
		}
		srv.done <- err
	case <-time.After(3 * time.Second):
		t.Fatal("serve did not exit within 3s of SIGTERM")
	}
	if err := <-done; err == nil || !strings.Contains(err.Error(), "grandma has to go") {
		t.Errorf("the caller's call ended with %v; want grandma hanging up, going away", err)
	}
}
