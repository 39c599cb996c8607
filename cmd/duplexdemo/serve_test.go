package main

import (
	"github.com/duplexdemo/duplexdemo/internal/syncbuf"

	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/view/report"
)

// binary builds duplexdemo once for the tests that run it as a user does.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "duplexdemo-bin")
		if err != nil {
			buildErr = err
			return
		}
		buildDir, buildPath = dir, filepath.Join(dir, "duplexdemo")
		out, err := exec.Command("go", "build", "-o", buildPath, ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("building duplexdemo: %v", buildErr)
	}
	return buildPath
}

var (
	buildOnce sync.Once
	buildDir  string // removed by TestMain
	buildPath string
	buildErr  error
)

// server is a `duplexdemo serve` process.
type server struct {
	cmd    *exec.Cmd
	url    string
	stderr *syncbuf.Buffer
	done   chan error
}

// startServer runs `duplexdemo serve` on a free port of 127.0.0.1 with the
// extra args, and stops it when the test ends.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	s := &server{cmd: cmd, stderr: &syncbuf.Buffer{}, done: make(chan error, 1)}
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
		if m := addr.FindStringSubmatch(lines.Text()); m != nil {
			s.url = "http://" + m[1]
			break
		}
	}
	go func() {
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
		out, err := exec.Command(binary(t), mode, "--server", srv.url, "--json", "--speed", "4", "--latency", "10ms").Output()
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
	// One JSON line per call, with what a teacher needs to know of it.
	logged := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(srv.stderr.String()), "\n") {
		var entry struct {
			Mode, Peer, Outcome string
			ID                  int
			DurationMS          int64 `json:"duration_ms"`
			BytesIn             int64 `json:"bytes_in"`
			BytesOut            int64 `json:"bytes_out"`
		}
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("a log line that is not JSON: %q", line)
		}
		if entry.ID == 0 || entry.Peer == "" || entry.DurationMS <= 0 || entry.BytesIn <= 0 || entry.BytesOut <= 0 || entry.Outcome != "ok" {
			t.Errorf("a call's log line lacks something: %s", line)
		}
		logged[entry.Mode] = true
	}
	if !logged["walkie"] || !logged["phone"] {
		t.Errorf("the server logged calls of %v; want walkie and phone", logged)
	}
}

// TestServeShutdown signals the server in the middle of a phone call: it
// exits within a second, and the caller hears grandma hang up with 1001.
func TestServeShutdown(t *testing.T) {
	srv := startServer(t)
	call := exec.Command(binary(t), "phone", "--server", srv.url, "--pace", "1s")
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
	announce(&out, &errOut, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, 0)
	if !strings.Contains(out.String(), "this machine only") || !strings.Contains(out.String(), "walkie --server http://127.0.0.1:8080") || errOut.Len() != 0 {
		t.Errorf("on loopback: %q, %q", out.String(), errOut.String())
	}
	out.Reset()
	announce(&out, &errOut, &net.TCPAddr{IP: net.IPv4zero, Port: 8080}, 0)
	if strings.Count(errOut.String(), "\n") != 1 || !strings.Contains(errOut.String(), "warning") {
		t.Errorf("on every network, stderr says %q; want one warning line", errOut.String())
	}
	if !strings.Contains(out.String(), "every network") {
		t.Errorf("on every network: %q", out.String())
	}
}
