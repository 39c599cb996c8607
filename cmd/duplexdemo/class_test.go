package main

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/internal/binarytest"
	"github.com/duplexdemo/duplexdemo/pkg/class"
)

// TestClassExperiment plays a class as it happens: grandma served with a
// record file, two students calling her from other processes under their
// names, the teacher's tally, a restart of serve that keeps the record, and
// the record turned into a summary, CSV and a page after class.
func TestClassExperiment(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "class.jsonl")
	srv := startServer(t, "--record", file)
	for _, c := range []struct{ mode, student string }{{"walkie", "calm-otter-42"}, {"phone", "brave-wren-17"}} {
		out, err := exec.Command(binarytest.Binary(t), c.mode, "--server", srv.url, "--speed", "4", "--student", c.student).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", c.mode, err, out)
		}
		if !regexp.MustCompile(`(?i)on the teacher's view you are ` + c.student + `: this was call \d`).Match(out) {
			t.Errorf("%s: the student is not told where to find her call:\n%s", c.mode, out)
		}
	}
	// A call without --student keeps the name the last call had.
	if kept, err := exec.Command(binarytest.Binary(t), "phone", "--server", srv.url, "--speed", "4").CombinedOutput(); err != nil ||
		!strings.Contains(string(kept), "On the teacher's view you are brave-wren-17: this was call 3 (your next calls keep the name") {
		t.Errorf("a call without --student: %v\n%s", err, kept)
	}
	if !printed(srv, regexp.MustCompile(`/class#teacher=[0-9a-f]{32}\n`)) {
		t.Errorf("serve printed no teacher's address:\n%s", srv.stdout)
	}
	if !printed(srv, regexp.MustCompile(`experiment 1: 3 calls \| walkie \(at 4x speed\) 1, interruption heard after \d+ ms \(median\) \| phone \(at 4x speed\) 2, \d+ ms`)) {
		t.Errorf("no tally of both calls on the teacher's terminal:\n%s", srv.stdout)
	}

	// serve stops and starts again: the record is still there.
	_ = srv.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-srv.done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	srv.done <- nil // for the cleanup
	again := startServer(t, "--record", file)
	if !printed(again, regexp.MustCompile(`experiment 1, 3 calls so far`)) {
		t.Errorf("after a restart, serve does not say it kept the record:\n%s", again.stdout)
	}
	// The teacher's view open on the projector keeps its token.
	tokens := regexp.MustCompile(`/class#teacher=([0-9a-f]{32})`)
	if a, b := tokens.FindStringSubmatch(srv.stdout.String()), tokens.FindStringSubmatch(again.stdout.String()); a == nil || b == nil || a[1] != b[1] {
		t.Errorf("the teacher's token changed with the restart: %v, then %v", a, b)
	}
	resp, err := http.Get(again.url + "/class/record.json")
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err := class.Read(resp.Body)
	resp.Body.Close()
	if err != nil || len(rec.Calls) != 3 || rec.Calls[0].Student != "calm-otter-42" || rec.Calls[1].Mode != "phone" {
		t.Fatalf("the record after a restart: %v %+v", err, rec)
	}
	saved := filepath.Join(dir, "class-experiment-1.json")
	body, _ := json.Marshal(rec)
	if err := os.WriteFile(saved, body, 0o644); err != nil {
		t.Fatal(err)
	}

	// After class.
	out, stderr, err := run(t, false, nil, "report", saved)
	if err != nil {
		t.Fatalf("report: %v %s", err, stderr)
	}
	for _, want := range []string{"Class experiment 1", "3 calls", "walkie (the walkie-talkie, at 4x speed): 1 call", "phone (the phone call, at 4x speed): 2 calls", "interruption heard after   median"} {
		if !strings.Contains(out, want) {
			t.Errorf("the summary lacks %q:\n%s", want, out)
		}
	}
	out, _, err = run(t, false, nil, "report", file, "--csv", "-", "--html", filepath.Join(dir, "class.html"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 4 || rows[1][1] != "calm-otter-42" {
		t.Errorf("CSV from the record file: %v\n%s", err, out)
	}
	page, err := os.ReadFile(filepath.Join(dir, "class.html"))
	if err != nil || !strings.Contains(string(page), `id="class-data"`) || !strings.Contains(string(page), "brave-wren-17") || strings.Contains(string(page), `src="/class.js"`) {
		t.Errorf("the page after class is not self-contained with the record in it (%v)", err)
	}

	// A record file with two experiments: the last is reported, and the
	// teacher is told the other is there.
	req, _ := http.NewRequest(http.MethodPost, again.url+"/class/new", nil)
	req.Header.Set("Authorization", "Bearer "+tokens.FindStringSubmatch(again.stdout.String())[1])
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a new experiment: %s", resp.Status)
	}
	out, stderr, err = run(t, false, nil, "report", file)
	if err != nil || !strings.Contains(out, "Class experiment 2") || !strings.Contains(stderr, "holds experiments 1 and 2; this is experiment 2 (--experiment N for another)") {
		t.Errorf("report of a file with two experiments: %v\n%s%s", err, out, stderr)
	}
	if out, _, err = run(t, false, nil, "report", file, "--experiment", "1"); err != nil || !strings.Contains(out, "Class experiment 1") || !strings.Contains(out, "3 calls") {
		t.Errorf("report --experiment 1: %v\n%s", err, out)
	}
	if _, _, err = run(t, false, nil, "report", file, "--experiment", "3"); err == nil || !strings.Contains(err.Error(), "holds experiments 1 and 2") {
		t.Errorf("report --experiment 3: %v", err)
	}

	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"report", filepath.Join(dir, "nothing.json")}, "no such file"},
		{[]string{"report", filepath.Join(dir, "class.html")}, "not a class record"},
	} {
		_, stderr, err := run(t, false, nil, c.args...)
		if err == nil || strings.Count(stderr, "\n") > 1 || !strings.Contains(stderr+err.Error(), c.says) {
			t.Errorf("%v: %v %q; want one line saying %q", c.args, err, stderr, c.says)
		}
	}
}

// printed waits up to 10 s for serve to print what re matches.
func printed(s *server, re *regexp.Regexp) bool {
	deadline := time.Now().Add(10 * time.Second)
	for !re.MatchString(s.stdout.String()) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
