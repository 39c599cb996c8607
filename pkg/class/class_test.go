package class_test

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/class"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/view/report"
)

func ms(v float64) *float64 { return &v }

// call is a call of mode whose interruption was heard after heard ms (nil:
// never), for the numbers alone.
func call(mode string, heard *float64) class.Call {
	c := class.Call{Student: class.NewName()}
	c.Mode, c.Name = mode, "the "+mode
	c.Summary.Interruption = report.Moment{WaitedMS: ms(1), HeardAfterMS: heard}
	c.Summary.Afterthought = report.Moment{WaitedMS: nil}
	c.ClockAlignment = &report.Alignment{UncertaintyMS: 20}
	return c
}

func TestNames(t *testing.T) {
	seen := map[string]bool{}
	for range 2000 {
		n := class.NewName()
		if !class.ValidName(n) {
			t.Fatalf("NewName gave %q, which ValidName refuses", n)
		}
		seen[n] = true
	}
	if len(seen) < 1500 {
		t.Errorf("2000 names, only %d different", len(seen))
	}
	for _, bad := range []string{"", "calm-otter", "calm-otter-9", "calm-otter-100", "calm-otter-042", "Calm-otter-42", "alice-otter-42", "calm-alice-42", "calm-otter-42-1", "calm-otter-4x", "<script>-otter-42"} {
		if class.ValidName(bad) {
			t.Errorf("ValidName(%q) = true", bad)
		}
	}
}

func TestSummarize(t *testing.T) {
	calls := []class.Call{call("phone", ms(40)), call("walkie", ms(900)), call("phone", ms(44)), call("walkie", nil),
		call("walkie", ms(700)), call("phone", ms(41)), call("phone", ms(60)), call("sse", ms(45))}
	st := class.Summarize(class.Experiment{Number: 3}, calls, []result.Mode{{Key: "walkie", Name: "the walkie"}, {Key: "phone"}, {Key: "poll", Name: "polling"}})
	var order []string
	for _, m := range st.Modes {
		order = append(order, m.Mode)
	}
	if want := []string{"walkie", "phone", "poll", "sse"}; !reflect.DeepEqual(order, want) {
		t.Fatalf("modes %v, want %v: the ones asked for first, in order, then the others as they came", order, want)
	}
	if st.Calls != 8 || st.Modes[0].Calls != 3 || st.Modes[1].Calls != 4 || st.Modes[2].Calls != 0 || st.Modes[3].Calls != 1 {
		t.Errorf("counts: %d in all, %+v", st.Calls, st.Modes)
	}
	heard := func(m class.ModeStats) class.Dist {
		d, ok := m.Measure("interruption_heard_after_ms")
		if !ok {
			t.Fatal("no interruption_heard_after_ms")
		}
		return d
	}
	w, p, poll := heard(st.Modes[0]), heard(st.Modes[1]), heard(st.Modes[2])
	if !reflect.DeepEqual(w.Values, []float64{700, 900}) || w.Never != 1 || *w.Median != 800 || *w.Min != 700 || *w.Max != 900 {
		t.Errorf("walkie: %+v (median of an even count is the mean of the middle two)", w)
	}
	if !reflect.DeepEqual(p.Values, []float64{40, 41, 44, 60}) || p.Never != 0 || *p.Median != 42.5 {
		t.Errorf("phone: %+v", p)
	}
	if poll.Median != nil || len(poll.Values) != 0 || poll.Never != 0 {
		t.Errorf("a mode with no calls: %+v", poll)
	}
	if a, _ := st.Modes[3].Measure("afterthought_waited_ms"); a.Never != 1 || a.Median != nil {
		t.Errorf("a line never sent: %+v", a)
	}
	// A browser's walkie call that opened a second connection to get a
	// word in is set apart.
	two := call("walkie", ms(60))
	two.Name, two.Summary.Connections = "the walkie", 2
	split := class.Summarize(class.Experiment{Number: 1}, append([]class.Call{two}, calls...), []result.Mode{{Key: "walkie", Name: "the walkie"}, {Key: "phone"}})
	if g := split.Modes[2]; g.Group != "walkie+connections" || g.Mode != "walkie" || g.Connections != 2 || g.Calls != 1 || g.Name != "the walkie, on more than one connection" {
		t.Errorf("the walkie on two connections: %+v", g)
	}
	if g := split.Modes[0]; g.Group != "walkie" || g.Calls != 3 {
		t.Errorf("the walkie on one: %+v", g)
	}
	if got := split.Tally(); !strings.Contains(got, " | walkie (more connections) 1, 60 ms") {
		t.Errorf("tally %q", got)
	}
	odd := class.Summarize(class.Experiment{}, calls[:3], nil)
	if d := heard(odd.Modes[0]); *d.Median != 42 {
		t.Errorf("median of 40 and 44: %v", *d.Median)
	}
	if got, want := st.Tally(), "experiment 3: 8 calls | walkie 3, interruption heard after 800 ms (median) | phone 4, 43 ms | sse 1, 45 ms"; got != want {
		t.Errorf("tally\n got %q\nwant %q", got, want)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	rec := class.Record{Experiment: class.Experiment{Number: 2, Started: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)},
		Calls: []class.Call{call("walkie", ms(812.5)), call("phone", nil)}}
	var b bytes.Buffer
	if err := rec.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	got, torn, err := class.Read(&b)
	if err != nil || torn != 0 {
		t.Fatalf("Read: %v, %d torn", err, torn)
	}
	rec.Format, rec.Version = class.Format, class.Version
	if !reflect.DeepEqual(*got, rec) {
		t.Errorf("read back\n%+v\nwant\n%+v", *got, rec)
	}
	for _, tc := range []struct{ name, data, want string }{
		{"empty", "  \n", "empty"},
		{"not a record", `{"mode":"walkie"}`, "not a class record"},
		{"another format", `{"format":"other","version":1,"experiment":{"number":1},"calls":[]}`, `format is "other"`},
		{"a newer version", `{"format":"duplexdemo-class","version":9,"experiment":{"number":1},"calls":[]}`, "version 9"},
		{"a name of her own", `{"format":"duplexdemo-class","version":1,"experiment":{"number":1},"calls":[{"mode":"walkie","student":"Alice"}]}`, `student "Alice"`},
	} {
		if _, _, err := class.Read(strings.NewReader(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}

func TestCSV(t *testing.T) {
	c := call("walkie", ms(812.5))
	c.ID, c.LatencyMS = 7, 40
	c.Summary.Bytes = report.Directions{ClientToServer: 925, ServerToClient: 4588}
	rec := class.Record{Calls: []class.Call{c, call("phone", nil)}}
	var b bytes.Buffer
	if err := rec.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	r := rows[1]
	for k, want := range map[string]string{"id": "7", "mode": "walkie", "student": c.Student, "latency_ms": "40", "round_trip_ms": "40",
		"interruption_heard_after_ms": "812.5", "afterthought_waited_ms": "", "bytes_client_to_server": "925", "bytes_server_to_client": "4588"} {
		if got := r[col[k]]; got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if got := rows[2][col["interruption_heard_after_ms"]]; got != "" {
		t.Errorf("never heard: %q, want an empty cell", got)
	}
}

// TestRoomFile: a record file survives a restart, keeps its experiments,
// and loses at most a torn last line.
func TestRoomFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "class.jsonl")
	clock := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	open := func() (*class.Room, int) {
		t.Helper()
		r, torn, err := class.Open(class.Options{File: file, Modes: []result.Mode{{Key: "walkie"}, {Key: "phone"}}, Now: func() time.Time { return clock }})
		if err != nil {
			t.Fatal(err)
		}
		return r, torn
	}
	r, _ := open()
	for _, c := range []class.Call{call("walkie", ms(800)), call("phone", ms(41)), call("phone", nil)} {
		if _, err := r.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	want := r.Record()
	r.Close()

	r, torn := open()
	if got := r.Record(); torn != 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("after a restart (%d torn):\n%+v\nwant\n%+v", torn, got, want)
	}
	if c, err := r.Add(call("walkie", ms(700))); err != nil || c.ID != 4 {
		t.Fatalf("the next call: %d, %v; want number 4", c.ID, err)
	}
	if exp, err := r.NewExperiment(); err != nil || exp.Number != 2 {
		t.Fatalf("new experiment %+v, %v", exp, err)
	}
	r.Close()

	// A power cut in the middle of a call's line.
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"call":{"id":1,"student":"calm-`)
	f.Close()
	r, torn = open()
	defer r.Close()
	if got := r.Record(); torn != 1 || got.Experiment.Number != 2 || len(got.Calls) != 0 {
		t.Fatalf("after a torn line: experiment %d with %d calls, %d torn; want experiment 2, none, 1", got.Experiment.Number, len(got.Calls), torn)
	}
	if _, err := r.Add(call("phone", ms(40))); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(file)
	if rec, torn, err := class.Read(bytes.NewReader(data)); err != nil || torn != 0 || len(rec.Calls) != 1 || rec.Experiment.Number != 2 {
		t.Errorf("the file after: %v, %d torn, %+v", err, torn, rec)
	}
	if n := strings.Count(string(data), `"experiment"`); n != 2 {
		t.Errorf("the file holds %d experiments, want both", n)
	}

	if err := os.WriteFile(file, []byte("{\"call\":{}}\nnot json\n{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := class.Open(class.Options{File: file}); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("a file that is not a record: %v", err)
	}
}

// TestRoomWatch: watchers are told of each call and each new experiment;
// one that falls behind is let go.
func TestRoomWatch(t *testing.T) {
	r, _, err := class.Open(class.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Add(call("walkie", ms(1)))
	now, stats, updates, stop := r.Watch()
	if len(now.Calls) != 1 || stats.Calls != 1 {
		t.Fatalf("watch began with %d calls, stats %d", len(now.Calls), stats.Calls)
	}
	r.Add(call("phone", ms(2)))
	r.NewExperiment()
	if u := <-updates; u.Call == nil || u.Call.ID != 2 || u.Stats.Calls != 2 {
		t.Errorf("first update %+v", u)
	}
	if u := <-updates; u.Call != nil || u.Stats.Calls != 0 || u.Stats.Experiment.Number != 2 {
		t.Errorf("second update %+v", u)
	}
	stop()
	if _, ok := <-updates; ok {
		t.Error("the channel is open after stop")
	}
	_, _, lagging, stop2 := r.Watch()
	defer stop2()
	for range 300 {
		r.Add(call("phone", ms(3)))
	}
	n := 0
	for range lagging {
		n++
	}
	if n == 0 || n >= 300 {
		t.Errorf("a watcher that never read got %d updates before being let go", n)
	}
}

// TestVariant: a call on another script than the class's is set apart, and
// says how it differs.
func TestVariant(t *testing.T) {
	base := class.Script{Sentences: 6, PaceMS: 250, InterruptAtMS: 750, AfterthoughtAtMS: 2250, GoodbyeAtMS: 2850}
	fast := class.Script{Sentences: 6, PaceMS: 62.5, InterruptAtMS: 187.5, AfterthoughtAtMS: 562.5, GoodbyeAtMS: 712.5}
	other := base
	other.PaceMS = 100
	photo, fastPhoto, classPhoto := base, fast, base
	photo.PhotoBytes, fastPhoto.PhotoBytes, classPhoto.PhotoBytes = 200_000, 50_000, 50_000
	for _, tc := range []struct {
		s, class class.Script
		want     string
	}{{base, base, ""}, {fast, base, "at 4x speed"}, {other, base, "on another script (pace 100 ms)"},
		{photo, base, "with a 200KB photo"}, {fastPhoto, base, "at 4x speed, with a 50KB photo"},
		{base, classPhoto, "without the photo"}, {photo, classPhoto, "with a 200KB photo"}, {classPhoto, classPhoto, ""}} {
		if got := tc.s.Variant(tc.class); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.s, got, tc.want)
		}
	}
	room, _, err := class.Open(class.Options{Modes: []result.Mode{{Key: "phone", Name: "the phone"}}, Script: &base})
	if err != nil {
		t.Fatal(err)
	}
	defer room.Close()
	for _, s := range []class.Script{base, fast} {
		c := call("phone", ms(40))
		c.Name, c.Script = "the phone", &s
		if _, err := room.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	st := room.Stats()
	if len(st.Modes) != 2 || st.Modes[0].Calls != 1 || st.Modes[1].Group != "phone at 4x speed" || st.Modes[1].Name != "the phone, at 4x speed" || st.Modes[1].Calls != 1 {
		t.Errorf("groups: %+v", st.Modes)
	}
	if rec := room.Record(); rec.Calls[1].Variant != "at 4x speed" || rec.Experiment.Script == nil || *rec.Experiment.Script != base {
		t.Errorf("the record: variant %q, the experiment's script %v", rec.Calls[1].Variant, rec.Experiment.Script)
	}
}
