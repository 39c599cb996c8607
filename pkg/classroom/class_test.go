package classroom_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/internal/classroomtest"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/class"
	"github.com/duplexdemo/duplexdemo/pkg/classroom"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/view/report"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// classServer serves grandma with a class experiment of the test's own and
// the teacher's token "teacher-token", and returns her URL and the room.
func classServer(t *testing.T, cfg classroom.Config) (string, *class.Room) {
	t.Helper()
	room, _, err := class.Open(class.Options{Modes: classroom.ClassModes(), Script: classroom.ClassScript()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { room.Close() })
	cfg.Class, cfg.TeacherToken = room, "teacher-token"
	return classroomtest.Serve(t, cfg), room
}

// TestCallsReported: a walkie and a phone call made with a student's name
// are reported to the class, each joined on grandma's side from the same
// two records the grandchild joined: the same moments to the microsecond,
// the same bytes from the grandchild, and grandma's own count of hers.
func TestCallsReported(t *testing.T) {
	url, room := classServer(t, classroom.Config{})
	for i, m := range []call.Mode{halfduplex.Mode(), fullduplex.Mode()} {
		t.Run(m.Key, func(t *testing.T) {
			student := class.NewName()
			res, err := call.RunRemote(context.Background(), m, call.Config{Script: calltest.Script(t, story.Options{Speed: 4}), Latency: 10 * time.Millisecond, Student: student}, url)
			if err != nil {
				t.Fatal(err)
			}
			if res.Reported != i+1 {
				t.Fatalf("reported as call %d, want %d", res.Reported, i+1)
			}
			rec := room.Record()
			if len(rec.Calls) != i+1 {
				t.Fatalf("the class has %d calls, want %d", len(rec.Calls), i+1)
			}
			got := rec.Calls[i]
			want := report.Build(res)
			if got.Variant != "at 4x speed" || got.Script == nil || got.Script.PaceMS != 62.5 {
				t.Errorf("a call at --speed 4: variant %q, script %+v", got.Variant, got.Script)
			}
			if got.Student != student || got.Mode != m.Key || got.ID != res.Reported {
				t.Errorf("reported as %s %s call %d, want %s %s call %d", got.Student, got.Mode, got.ID, student, m.Key, res.Reported)
			}
			for _, mm := range report.MomentMeasures() {
				g, w := mm.Get(got.Call), mm.Get(want)
				if (g == nil) != (w == nil) || (g != nil && *g != *w) {
					t.Errorf("%s: the class has %v, the grandchild %v", mm.Key, deref(g), deref(w))
				}
			}
			if got.LatencyMS != want.LatencyMS || got.ClockAlignment == nil || *got.ClockAlignment != *want.ClockAlignment {
				t.Errorf("latency %v alignment %+v, want %v %+v", got.LatencyMS, got.ClockAlignment, want.LatencyMS, want.ClockAlignment)
			}
			gb, wb := got.Summary.Bytes, want.Summary.Bytes
			if gb.ClientToServer != wb.ClientToServer {
				t.Errorf("bytes from the grandchild: grandma counted %d, the grandchild %d", gb.ClientToServer, wb.ClientToServer)
			}
			// Grandma's count holds her record, handed over on the same
			// wire; the grandchild's leaves it out.
			if gb.ServerToClient <= wb.ServerToClient {
				t.Errorf("bytes from grandma: she counted %d, the grandchild %d without her record", gb.ServerToClient, wb.ServerToClient)
			}
			if got.Summary.Connections != want.Summary.Connections {
				t.Errorf("connections %d, want %d", got.Summary.Connections, want.Summary.Connections)
			}
		})
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// post sends body to path with the headers, and returns the status and
// the answer.
func post(t *testing.T, url, path, body string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestReportRefused: a report is taken once, for a call that ended here,
// under a name the server gives; anything else is refused with its status
// and nothing is added.
func TestReportRefused(t *testing.T) {
	url, room := classServer(t, classroom.Config{})
	script := calltest.Script(t, story.Options{Speed: 4})
	res, err := call.RunRemote(context.Background(), fullduplex.Mode(), call.Config{Script: script, Student: class.NewName()}, url)
	if err != nil || res.Reported != 1 {
		t.Fatalf("first report: %v, call %d", err, res.Reported)
	}
	ver := map[string]string{wire.HeaderVersion: "1"}
	rec, _ := json.Marshal(map[string]any{"protocol": 1, "duration_ns": 0, "connections": 0, "latency_ns": 0, "events": []any{}})
	body := func(id, student string) string {
		b, _ := json.Marshal(wire.Report{Protocol: 1, Call: id, Student: student, Record: rec})
		return string(b)
	}
	for _, tc := range []struct {
		name, body string
		header     map[string]string
		status     int
	}{
		{"no version", body(wire.NewCallID(), class.NewName()), nil, http.StatusBadRequest},
		{"no such call", body(wire.NewCallID(), class.NewName()), ver, http.StatusNotFound},
		{"a name of her own", body(wire.NewCallID(), "Alice Smith"), ver, http.StatusBadRequest},
		{"not JSON", "hello", ver, http.StatusBadRequest},
		{"too big", `{"protocol":1,"call":"` + strings.Repeat("a", wire.MaxReport) + `"}`, ver, http.StatusRequestEntityTooLarge},
	} {
		if status, answer := post(t, url, wire.ReportPath, tc.body, tc.header); status != tc.status {
			t.Errorf("%s: %d %q, want %d", tc.name, status, answer, tc.status)
		}
	}
	if n := len(room.Record().Calls); n != 1 {
		t.Errorf("the class has %d calls, want the 1 reported", n)
	}
}

// TestNewExperiment: only the teacher's token starts a new experiment.
func TestNewExperiment(t *testing.T) {
	url, room := classServer(t, classroom.Config{})
	if _, err := call.RunRemote(context.Background(), fullduplex.Mode(), call.Config{Script: calltest.Script(t, story.Options{Speed: 4}), Student: class.NewName()}, url); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		header map[string]string
		status int
	}{
		{"no token", nil, http.StatusUnauthorized},
		{"a wrong token", map[string]string{"Authorization": "Bearer guess"}, http.StatusForbidden},
		{"the token from another page", map[string]string{"Authorization": "Bearer teacher-token", "Origin": "http://evil.example"}, http.StatusForbidden},
	} {
		if status, answer := post(t, url, classroom.NewExperimentPath, "", tc.header); status != tc.status {
			t.Errorf("%s: %d %q, want %d", tc.name, status, answer, tc.status)
		}
		if rec := room.Record(); len(rec.Calls) != 1 || rec.Experiment.Number != 1 {
			t.Fatalf("after %s: experiment %d with %d calls, want experiment 1 with its call", tc.name, rec.Experiment.Number, len(rec.Calls))
		}
	}
	status, answer := post(t, url, classroom.NewExperimentPath, "", map[string]string{"Authorization": "Bearer teacher-token"})
	if status != http.StatusOK {
		t.Fatalf("the teacher's token: %d %q", status, answer)
	}
	if rec := room.Record(); len(rec.Calls) != 0 || rec.Experiment.Number != 2 {
		t.Errorf("after a new experiment: experiment %d with %d calls, want experiment 2 with none", rec.Experiment.Number, len(rec.Calls))
	}
}

// TestEventsAndDownloads: the teacher's view is sent a snapshot, then each
// call as it is reported; the downloads hold what the room holds.
func TestEventsAndDownloads(t *testing.T) {
	url, room := classServer(t, classroom.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+classroom.EventsPath, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	events := bufio.NewReader(resp.Body)
	next := func() (string, string) {
		t.Helper()
		var event, data string
		for {
			line, err := events.ReadString('\n')
			if err != nil {
				t.Fatalf("reading the events: %v", err)
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "" && event != "":
				return event, data
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = strings.TrimPrefix(line, "data: ")
			}
		}
	}
	event, data := next()
	var v class.View
	if err := json.Unmarshal([]byte(data), &v); event != "snapshot" || err != nil || len(v.Calls) != 0 || len(v.Stats.Modes) != len(classroom.ClassModes()) {
		t.Fatalf("first event %s %v: %.200s", event, err, data)
	}
	student := class.NewName()
	res, err := call.RunRemote(context.Background(), halfduplex.Mode(), call.Config{Script: calltest.Script(t, story.Options{Speed: 4}), Student: student}, url)
	if err != nil {
		t.Fatal(err)
	}
	event, data = next()
	var got struct {
		Calls []class.Row
		Stats class.Stats
	}
	if err := json.Unmarshal([]byte(data), &got); event != "calls" || err != nil || len(got.Calls) != 1 {
		t.Fatalf("then %s %v: %.200s", event, err, data)
	}
	if r := got.Calls[0]; r.ID != res.Reported || r.Student != student || len(r.Spans) == 0 || got.Stats.Calls != 1 {
		t.Errorf("the row: %+v; stats %d calls", r, got.Stats.Calls)
	}

	get := func(path string) (*http.Response, []byte) {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	jr, body := get(classroom.RecordJSONPath)
	rec, _, err := class.Read(strings.NewReader(string(body)))
	if err != nil || jr.StatusCode != http.StatusOK || !strings.Contains(jr.Header.Get("Content-Disposition"), "class-experiment-1.json") {
		t.Fatalf("record.json: %v %s %q", err, jr.Status, jr.Header.Get("Content-Disposition"))
	}
	if len(rec.Calls) != 1 || rec.Calls[0].Student != student || rec.Calls[0].Mode != "walkie" {
		t.Errorf("record.json holds %+v", rec.Calls)
	}
	want := room.Record()
	if g, w := rec.Stats(classroom.ClassModes()), want.Stats(classroom.ClassModes()); !sameStats(g, w) {
		t.Errorf("the download's stats %+v, the room's %+v", g, w)
	}
	_, csvBody := get(classroom.RecordCSVPath)
	lines := strings.Split(strings.TrimSpace(string(csvBody)), "\n")
	if len(lines) != 2 || lines[0] != strings.Join(class.CSVHeader(), ",") || !strings.Contains(lines[1], student+",walkie,") {
		t.Errorf("record.csv:\n%s", csvBody)
	}
}

func sameStats(a, b class.Stats) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestViewsBounded: one machine may hold only a few views of the class
// open, so that no student can take them all; the views open when the
// server stops end with it, at once.
func TestViewsBounded(t *testing.T) {
	srv := classroomtest.Start(t, classroom.Config{})
	var bodies []io.ReadCloser
	for i := range classroom.MaxViewersPerPeer + 1 {
		resp, err := http.Get(srv.URL + classroom.EventsPath)
		if err != nil {
			t.Fatal(err)
		}
		if i < classroom.MaxViewersPerPeer {
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("view %d: %s", i+1, resp.Status)
			}
			bodies = append(bodies, resp.Body)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "from one machine") {
			t.Errorf("view %d: %s %q; want 503 saying why", i+1, resp.Status, b)
		}
	}
	took, err := srv.Stop(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if took > classroom.ShutdownTimeout {
		t.Errorf("the server took %v to stop with views open; want under %v", took, classroom.ShutdownTimeout)
	}
	for _, b := range bodies {
		if _, err := io.Copy(io.Discard, b); err != nil {
			t.Errorf("a view's stream after the server stopped: %v", err)
		}
		b.Close()
	}
}
