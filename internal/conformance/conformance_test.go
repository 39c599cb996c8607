package conformance

import (
	"github.com/duplexdemo/duplexdemo/internal/binarytest"

	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/internal/syncbuf"
	"github.com/duplexdemo/duplexdemo/pkg/class"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

func TestMain(m *testing.M) {
	// The binary the process tests build is removed after them, whatever
	// they did; goleak checks for goroutines before the test binary exits.
	binarytest.Main(m)
}

// Bounds, generous: the test must pass on a busy 2-core machine.
const (
	callTimeout   = 90 * time.Second // one Node client's whole run
	listenTimeout = 30 * time.Second // serve saying where it listens
	logTimeout    = 15 * time.Second // serve logging a call once it is over
)

// ownScript is a script the clients build themselves from its query
// (PROTOCOL.md section 5.1), with two of its times left to their defaults:
// interrupt-at (2.4 × pace = 360ms, before the story's end at 450ms) and
// goodbye-at (afterthought-at + 600ms).
const ownScript = "protocol=1&sentences=4&pace=150ms&afterthought-at=900ms"

func TestWalkie(t *testing.T) { conform(t, "walkie") }

func TestPhone(t *testing.T) { conform(t, "phone") }

// conform plays a call of mode with its Node client against a fresh
// `duplexdemo serve`, with the server's default script (/script.json) and
// with one the client builds from a query, and checks each: the call, and
// its report to the class. Once both are played, the class record holds
// both calls, and nothing else.
func conform(t *testing.T, mode string) {
	nodePath, flags := findNode(t, mode)
	srv := startServer(t)
	defaultQuery := fetchScriptQuery(t, srv.url)
	reported := 0
	for _, c := range []struct {
		name, query string
		args        []string
	}{
		{"script.json", defaultQuery, nil},
		{"own script", ownScript, []string{"--script", ownScript}},
	} {
		t.Run(c.name, func(t *testing.T) {
			q, err := url.ParseQuery(c.query)
			if err != nil {
				t.Fatal(err)
			}
			script, err := wire.ParseScript(q)
			if err != nil {
				t.Fatalf("the script %q: %v", c.query, err)
			}
			args := append(append(append([]string{}, flags...), mode+".mjs", srv.url), c.args...)
			got := runClient(t, nodePath, args)
			rec := checkCall(t, mode, script, got)
			checkLogged(t, srv, mode, rec, got.record)
			if checkReported(t, srv, mode, got) {
				reported++
			}
		})
	}
	if n := len(classRecord(t, srv.url).Calls); n != reported {
		t.Errorf("the class record holds %d calls; the clients reported %d", n, reported)
	}
}

// findNode returns node and the flags that give it a built-in WebSocket
// for the phone, or skips the test (fails it under DUPLEXDEMO_REQUIRE_NODE=1)
// when there is no such node.
func findNode(t *testing.T, mode string) (string, []string) {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("DUPLEXDEMO_REQUIRE_NODE") == "1" {
			t.Fatalf("%s (DUPLEXDEMO_REQUIRE_NODE=1)", msg)
		}
		t.Skip(msg)
	}
	path, err := exec.LookPath("node")
	if err != nil {
		missing("no node on PATH: the conformance test needs Node.js")
	}
	version, _ := exec.Command(path, "--version").Output()
	has := func(global string, flags ...string) bool {
		args := append(flags, "-e", fmt.Sprintf("process.exit(typeof %s === 'function' ? 0 : 3)", global))
		return exec.Command(path, args...).Run() == nil
	}
	if !has("fetch") {
		missing("node %s has no built-in fetch: the conformance test needs Node.js 18 or later", strings.TrimSpace(string(version)))
	}
	if mode != "phone" || has("WebSocket") {
		return path, nil
	}
	if has("WebSocket", "--experimental-websocket") {
		return path, []string{"--experimental-websocket"}
	}
	missing("node %s has no built-in WebSocket, even with --experimental-websocket: the phone client needs Node.js 22, or 20.10 or later", strings.TrimSpace(string(version)))
	return "", nil
}

// server is a `duplexdemo serve --log-format json` process.
type server struct {
	url    string
	stderr *syncbuf.Buffer
	// logged are the ids of the calls already matched to a client's.
	logged map[int]bool
}

// startServer runs `duplexdemo serve` on a free port of 127.0.0.1, and
// stops it (SIGTERM) when the test ends.
func startServer(t *testing.T) *server {
	t.Helper()
	cmd := exec.Command(binarytest.Binary(t), "serve", "--listen", "127.0.0.1:0", "--log-format", "json")
	s := &server{stderr: &syncbuf.Buffer{}, logged: map[int]bool{}}
	cmd.Stderr = s.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		lines := bufio.NewScanner(stdout)
		addr := regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`)
		for lines.Scan() {
			if m := addr.FindStringSubmatch(lines.Text()); m != nil {
				found <- "http://" + m[1]
				break
			}
		}
		close(found)
		_, _ = io.Copy(io.Discard, stdout)
		done <- cmd.Wait()
	}()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Error("serve did not stop within 10 s of SIGTERM")
		}
	}
	select {
	case s.url = <-found:
	case <-time.After(listenTimeout):
	}
	if s.url == "" {
		stop()
		t.Fatalf("serve did not say where it listens; stderr: %s", s.stderr)
	}
	t.Cleanup(stop)
	return s
}

// fetchScriptQuery returns the query of the server's default script, from
// /script.json.
func fetchScriptQuery(t *testing.T, base string) string {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Get(base + "/script.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct {
		Query string `json:"query"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || s.Query == "" {
		t.Fatalf("/script.json: %v, query %q", err, s.Query)
	}
	return s.Query
}

// clientRun is what a Node client printed: the lines it said and heard, in
// order, and when it said each (ms on its clock, by label), grandma's
// record as it arrived, its closing summary, and its report to the class.
type clientRun struct {
	said, heard []line
	saidAt      map[string]float64
	record      string
	summary     string
	report      *clientReport
}

// clientReport is a client's report of its call to the class, as it
// printed it: the answer's status, the student's name it reported under,
// and the answer's body.
type clientReport struct {
	status  int
	student string
	body    string
}

type line struct{ label, text string }

// runClient runs a Node client to its end and reads what it printed; the
// client must exit 0.
func runClient(t *testing.T, nodePath string, args []string) clientRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodePath, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("node %s did not finish within %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), callTimeout, &stdout, &stderr)
	}
	if err != nil {
		t.Fatalf("node %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, &stdout, &stderr)
	}
	r := clientRun{saidAt: map[string]float64{}}
	for l := range strings.SplitSeq(strings.TrimSuffix(stdout.String(), "\n"), "\n") {
		f := strings.Split(l, "\t")
		switch {
		case f[0] == "said" && len(f) == 4:
			r.said = append(r.said, line{f[2], f[3]})
			at, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				t.Fatalf("the client said a line at %q: %v", f[1], err)
			}
			r.saidAt[f[2]] = at
		case f[0] == "reported" && len(f) >= 4:
			if r.report != nil {
				t.Fatalf("the client reported its call twice:\n%s", &stdout)
			}
			status, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatalf("the client's report was answered %q: %v", f[1], err)
			}
			r.report = &clientReport{status: status, student: f[2], body: strings.Join(f[3:], "\t")}
		case f[0] == "heard" && len(f) == 4:
			r.heard = append(r.heard, line{f[2], f[3]})
		case f[0] == "record" && len(f) == 2:
			if r.record != "" {
				t.Fatalf("the client printed two records:\n%s", &stdout)
			}
			r.record = f[1]
		case f[0] == "ok" && len(f) == 2:
			r.summary = f[1]
		default:
			t.Fatalf("the client printed a line this test does not know: %q\nstdout:\n%s", l, &stdout)
		}
	}
	if r.summary == "" {
		t.Fatalf("the client exited 0 without saying ok\nstdout:\n%s\nstderr:\n%s", &stdout, &stderr)
	}
	t.Logf("node %s: %s", strings.Join(args, " "), r.summary)
	return r
}

// checkCall checks that the client completed its call as PROTOCOL.md
// says, and returns grandma's record: decoded strictly, as duplexdemo's own
// client decodes it, and holding what the client saw.
func checkCall(t *testing.T, mode string, script story.Script, got clientRun) wire.Record {
	t.Helper()
	// It said its three lines, in order, as Go's script has them.
	want := []line{{story.LabelQuestion, script.Question}, {story.LabelInterruption, script.Interruption}, {story.LabelGoodbye, script.Goodbye}}
	if !slices.Equal(got.said, want) {
		t.Errorf("the client said %q; want %q", got.said, want)
	}
	// It heard the whole story in order, the answer, perhaps the
	// afterthought, and last the farewell; each line under its label.
	var sentences []string
	counts := map[string]int{}
	for _, l := range got.heard {
		if label, ok := script.LineLabel(l.text); !ok || label != l.label {
			t.Errorf("the client heard %q as %s; the script's label is %q", l.text, l.label, label)
		}
		counts[l.label]++
		if l.label == story.LabelStory {
			sentences = append(sentences, l.text)
		}
	}
	if !slices.Equal(sentences, script.Story) {
		t.Errorf("the client heard the story %q; want %q", sentences, script.Story)
	}
	if counts[story.LabelAnswer] != 1 || counts[story.LabelAfterthought] > 1 || counts[story.LabelFarewell] != 1 {
		t.Errorf("the client heard %v lines of each kind; want one answer, at most one afterthought, one farewell", counts)
	}
	if n := len(got.heard); n == 0 || got.heard[n-1].text != script.Farewell {
		t.Errorf("the call did not end with grandma's farewell: the client heard %q", got.heard)
	}

	// Her record: the one duplexdemo's client would accept.
	if !strings.HasPrefix(got.record, wire.RecordPrefix) {
		t.Fatalf("the client got no record from grandma, or one not starting %s: %.80q", wire.RecordPrefix, got.record)
	}
	if _, _, err := wire.DecodeRecord([]byte(got.record), script); err != nil {
		t.Fatalf("grandma's record, as the client got it: %v", err)
	}
	var rec wire.Record
	dec := json.NewDecoder(strings.NewReader(got.record))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		t.Fatal(err)
	}
	// What she heard is what the client said; what she sent, what it
	// heard, in the same order (PROTOCOL.md section 12.3).
	var herHeard, herSent, said, heard []string
	for _, e := range rec.Events {
		switch e.Kind {
		case "heard":
			herHeard = append(herHeard, e.Text)
		case "send":
			herSent = append(herSent, e.Text)
		}
	}
	for _, l := range got.said {
		said = append(said, l.text)
	}
	for _, l := range got.heard {
		heard = append(heard, l.text)
	}
	if !slices.Equal(herHeard, said) {
		t.Errorf("grandma's record says she heard %q; the client said %q", herHeard, said)
	}
	if !slices.Equal(herSent, heard) {
		t.Errorf("grandma's record says she sent %q; the client heard %q", herSent, heard)
	}
	switch {
	case mode == "phone" && rec.Connections != 1:
		t.Errorf("phone: her record says %d connections carried the call; want 1", rec.Connections)
	case rec.Connections < 1 || rec.Connections > 3:
		t.Errorf("walkie: her record says %d connections carried the call; want 1 to 3", rec.Connections)
	}
	if rec.LatencyNS != 0 {
		t.Errorf("her record gives her link a latency of %d ns; serve ran without --latency", rec.LatencyNS)
	}
	if told := script.StoryEnd(); time.Duration(rec.DurationNS) < told {
		t.Errorf("her record says the call lasted %v, less than her story takes (%v)", time.Duration(rec.DurationNS), told)
	}
	return rec
}

// logEntry is serve's log line for one call (--log-format json).
type logEntry struct {
	Msg        string `json:"msg"`
	ID         int    `json:"id"`
	Mode       string `json:"mode"`
	Peer       string `json:"peer"`
	DurationMS int64  `json:"duration_ms"`
	BytesIn    int64  `json:"bytes_in"`
	BytesOut   int64  `json:"bytes_out"`
	LinesHeard int    `json:"lines_heard"`
	Outcome    string `json:"outcome"`
}

// checkLogged waits for serve's log line for the call just played (the
// first call of mode not yet matched) and checks it against grandma's
// record as the client got it.
func checkLogged(t *testing.T, srv *server, mode string, rec wire.Record, raw string) {
	t.Helper()
	var entry *logEntry
	deadline := time.Now().Add(logTimeout)
	for entry == nil {
		for l := range strings.SplitSeq(srv.stderr.String(), "\n") {
			var e logEntry
			if l == "" || json.Unmarshal([]byte(l), &e) != nil || e.Msg != "call" || e.Mode != mode || srv.logged[e.ID] {
				continue
			}
			entry = &e
			srv.logged[e.ID] = true
			break
		}
		if entry == nil {
			if time.Now().After(deadline) {
				t.Fatalf("serve logged no %s call within %v of its end; its log:\n%s", mode, logTimeout, srv.stderr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if entry.Outcome != "ok" {
		t.Errorf("serve logged the call as %q; want ok", entry.Outcome)
	}
	heard := 0
	for _, e := range rec.Events {
		if e.Kind == "heard" {
			heard++
		}
	}
	if entry.LinesHeard != heard {
		t.Errorf("serve logged %d lines heard; her record has %d", entry.LinesHeard, heard)
	}
	// Her record is made just after her farewell, and the call logged
	// when it is over: a little later, on the same machine's clock.
	recMS := time.Duration(rec.DurationNS).Milliseconds()
	if entry.DurationMS < recMS-1 || entry.DurationMS > recMS+10_000 {
		t.Errorf("serve logged a call of %d ms; her record says %d ms", entry.DurationMS, recMS)
	}
	// What she wrote holds her record, and her lines besides.
	if entry.BytesOut <= int64(len(raw)) || entry.BytesIn <= 0 {
		t.Errorf("serve logged %d bytes out and %d in; her record alone is %d bytes", entry.BytesOut, entry.BytesIn, len(raw))
	}
	if !strings.HasPrefix(entry.Peer, "127.0.0.1:") {
		t.Errorf("serve logged the caller as %q; want 127.0.0.1:PORT", entry.Peer)
	}
}

// checkReported checks that the client reported its call to the class
// (PROTOCOL.md section 17) and that the server took it: 201, the call's id
// in the experiment, and the call in the class record under the student's
// name, as a call of mode, with the interruption sent when the client said
// it (on the client's clock: the record is the client's). It says whether
// the server took the report.
func checkReported(t *testing.T, srv *server, mode string, got clientRun) bool {
	t.Helper()
	rep := got.report
	if rep == nil {
		t.Error("the client did not report its call to the class")
		return false
	}
	if rep.status != http.StatusCreated {
		t.Errorf("the client's report was answered %d %q; want 201", rep.status, rep.body)
		return false
	}
	if !class.ValidName(rep.student) {
		t.Errorf("the client reported as %q; want the name /script.json gave it", rep.student)
	}
	var answer struct {
		ID      int    `json:"id"`
		Student string `json:"student"`
	}
	dec := json.NewDecoder(strings.NewReader(rep.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&answer); err != nil || answer.ID < 1 || answer.Student != rep.student {
		t.Errorf("the report was answered 201 %q (%v); want {\"id\":N,\"student\":%q}", rep.body, err, rep.student)
		return true
	}
	var c *class.Call
	rec := classRecord(t, srv.url)
	for i := range rec.Calls {
		if rec.Calls[i].ID == answer.ID {
			c = &rec.Calls[i]
		}
	}
	if c == nil {
		t.Errorf("call %d, reported, is not in the class record (%d calls)", answer.ID, len(rec.Calls))
		return true
	}
	t.Logf("reported: call %d of the experiment, %s's %s call", c.ID, c.Student, c.Mode)
	if c.Student != rep.student || c.Mode != mode {
		t.Errorf("call %d is in the class record as %s's %s call; want %s's %s call", c.ID, c.Student, c.Mode, rep.student, mode)
	}
	// The client printed its times to 0.1 ms.
	sent, said := c.Summary.Interruption.SentAtMS, got.saidAt[story.LabelInterruption]
	if sent == nil || *sent < said-0.1 || *sent > said+0.1 {
		t.Errorf("call %d: the class record has the interruption sent at %v ms; the client said it at %.1f ms", c.ID, fmtMS(sent), said)
	}
	return true
}

func fmtMS(v *float64) string {
	if v == nil {
		return "never"
	}
	return strconv.FormatFloat(*v, 'f', 3, 64)
}

// classRecord downloads the class experiment's record from serve.
func classRecord(t *testing.T, base string) class.Record {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Get(base + "/class/record.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /class/record.json: %s", resp.Status)
	}
	var rec class.Record
	if err := json.NewDecoder(resp.Body).Decode(&rec); err != nil {
		t.Fatalf("GET /class/record.json: %v", err)
	}
	return rec
}

// TestDocument holds docs/PROTOCOL.md to the code it describes: its version
// line is wire.Version, it gives every line of the script, byte for byte,
// as package story has them, and it names the headers, the record's
// prefix, the report's path and the phone's call parameter as package wire
// has them.
func TestDocument(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "PROTOCOL.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\*\*Protocol version: (\d+)\*\*$`).FindSubmatch(doc)
	if m == nil || string(m[1]) != fmt.Sprint(wire.Version) {
		t.Errorf("docs/PROTOCOL.md's version line says %q; wire.Version is %d", m, wire.Version)
	}
	full, err := story.New(story.Options{Sentences: story.MaxSentences})
	if err != nil {
		t.Fatal(err)
	}
	lines := append([]string{full.Question, full.Interruption, full.Answer, full.Afterthought, full.Goodbye, full.Farewell}, full.Story...)
	for i, l := range lines {
		if !strings.Contains(string(doc), "`"+l+"`") {
			t.Errorf("docs/PROTOCOL.md does not give line %d of the script, %q", i, l)
		}
	}
	for _, h := range []string{wire.HeaderVersion, wire.HeaderCall, wire.RecordPrefix, wire.ReportPath, "&" + wire.QueryCall + "="} {
		if !strings.Contains(string(doc), h) {
			t.Errorf("docs/PROTOCOL.md never names %s", h)
		}
	}
}
