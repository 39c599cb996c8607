package traceevent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/result"

	"go.uber.org/goleak"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/internal/exporttest"
	"github.com/duplexdemo/duplexdemo/internal/pipenet"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
	"github.com/duplexdemo/duplexdemo/pkg/link"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/view/traceevent"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestGolden writes each mode's trace, and both in one file as compare
// does, and checks each against its golden file and against the format.
func TestGolden(t *testing.T) {
	exporttest.Golden(t, *update, ".trace.json", traceevent.Write, checkTrace)
}

// TestRealCalls validates the traces of calls on real sockets, where times
// are noisy and no two events share a nanosecond.
func TestRealCalls(t *testing.T) {
	s := calltest.Script(t, story.Options{Speed: 4})
	for _, m := range []call.Mode{halfduplex.Mode(), fullduplex.Mode()} {
		res, err := call.Run(context.Background(), m, call.Config{Script: s, Latency: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := traceevent.Write(&b, res); err != nil {
			t.Fatal(err)
		}
		t.Run(res.Mode.Key, func(t *testing.T) { checkTrace(t, b.Bytes(), []*result.Result{res}) })
	}
}

// TestSlowLink validates the trace of a call on a link so slow that every
// sentence of a long, fast story is in flight at once, which splits the
// message tracks into many lanes.
func TestSlowLink(t *testing.T) {
	var res *result.Result
	synctest.Test(t, func(t *testing.T) {
		s := calltest.Script(t, story.Options{Sentences: story.MaxSentences, Pace: 20 * time.Millisecond})
		res = calltest.InMemory(t, fullduplex.Mode(), s, 5*time.Second)
	})
	var b bytes.Buffer
	if err := traceevent.Write(&b, res); err != nil {
		t.Fatal(err)
	}
	checkTrace(t, b.Bytes(), []*result.Result{res})
	if !strings.Contains(b.String(), `"receiving (10)"`) {
		t.Error("expected the receiving track split in ten or more lanes")
	}
}

// rawEvent is a trace event as a viewer reads it: any field may be missing.
type rawEvent struct {
	Name *string        `json:"name"`
	Cat  *string        `json:"cat"`
	Ph   *string        `json:"ph"`
	TS   *float64       `json:"ts"`
	Dur  *float64       `json:"dur"`
	PID  *int           `json:"pid"`
	TID  *int           `json:"tid"`
	S    *string        `json:"s"`
	ID   *string        `json:"id"`
	BP   *string        `json:"bp"`
	Args map[string]any `json:"args"`
}

type track struct{ pid, tid int }

// validate checks a trace file against the Trace Event Format as Perfetto
// and chrome://tracing read it, and against the calls it was made from.
func validate(data []byte, calls []*result.Result) (problems []string) {
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	var file struct {
		TraceEvents     []rawEvent     `json:"traceEvents"`
		DisplayTimeUnit string         `json:"displayTimeUnit"`
		OtherData       map[string]any `json:"otherData"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		bad("not a trace file: %v", err)
		return problems
	}
	if file.DisplayTimeUnit != "ms" && file.DisplayTimeUnit != "ns" {
		bad("displayTimeUnit %q, want ms or ns", file.DisplayTimeUnit)
	}
	if len(file.TraceEvents) == 0 {
		bad("no events")
		return problems
	}

	processNames := map[int]string{}
	threadNames := map[track]string{}
	slices := map[track][][2]float64{}
	type flowEnd struct {
		tr track
		ts float64
	}
	starts, finishes := map[string]flowEnd{}, map[string]flowEnd{}
	var waits []rawEvent
	var lastTS float64
	for i, e := range file.TraceEvents {
		where := fmt.Sprintf("event %d", i)
		if e.Ph == nil || e.Name == nil || e.PID == nil {
			bad("%s: every event needs ph, name and pid: %+v", where, e)
			return problems
		}
		ph := *e.Ph
		if ph != "M" {
			if e.TS == nil || e.TID == nil {
				bad("%s (%s %q): needs ts and tid", where, ph, *e.Name)
				return problems
			}
			if *e.TS < 0 || math.IsNaN(*e.TS) {
				bad("%s: ts %v before the call began", where, *e.TS)
			}
			if *e.TS < lastTS {
				bad("%s: ts %v after an event at %v; events should be in time order", where, *e.TS, lastTS)
			}
			lastTS = *e.TS
		}
		switch ph {
		case "M":
			name, _ := e.Args["name"].(string)
			switch *e.Name {
			case "process_name":
				if name == "" {
					bad("%s: process_name without args.name", where)
				}
				processNames[*e.PID] = name
			case "thread_name":
				if name == "" || e.TID == nil {
					bad("%s: thread_name without tid or args.name", where)
				} else {
					tr := track{*e.PID, *e.TID}
					if old, dup := threadNames[tr]; dup {
						bad("%s: pid %d tid %d named twice, %q and %q", where, tr.pid, tr.tid, old, name)
					}
					threadNames[tr] = name
				}
			case "process_sort_index", "thread_sort_index":
				if _, ok := e.Args["sort_index"].(float64); !ok {
					bad("%s: %s without a numeric args.sort_index", where, *e.Name)
				}
			case "process_labels":
				if _, ok := e.Args["labels"].(string); !ok {
					bad("%s: process_labels without args.labels", where)
				}
			default:
				bad("%s: unknown metadata event %q", where, *e.Name)
			}
		case "X":
			if e.Dur == nil || *e.Dur < 0 {
				bad("%s: complete event %q needs dur >= 0", where, *e.Name)
				return problems
			}
			tr := track{*e.PID, *e.TID}
			slices[tr] = append(slices[tr], [2]float64{*e.TS, *e.TS + *e.Dur})
			if _, ok := e.Args["why"]; ok {
				waits = append(waits, e)
				if w, ok := e.Args["waited_ms"].(float64); !ok || math.Abs(w*1000-*e.Dur) > 1e-6 {
					bad("%s: wait %q lasts %vµs but says waited_ms %v", where, *e.Name, *e.Dur, e.Args["waited_ms"])
				}
			}
			if f, ok := e.Args["in_flight_ms"].(float64); ok && math.Abs(f*1000-*e.Dur) > 1e-6 {
				bad("%s: message %q lasts %vµs but says in_flight_ms %v", where, *e.Name, *e.Dur, f)
			}
		case "i":
			if e.S == nil || *e.S != "t" {
				bad("%s: instant %q should have thread scope s=t", where, *e.Name)
			}
		case "s", "f":
			if e.ID == nil || e.Cat == nil {
				bad("%s: flow event needs id and cat", where)
				return problems
			}
			end := flowEnd{track{*e.PID, *e.TID}, *e.TS}
			m := starts
			if ph == "f" {
				m = finishes
				if e.BP == nil || *e.BP != "e" {
					bad("%s: flow finish should bind to its enclosing slice (bp=e)", where)
				}
			}
			if _, dup := m[*e.ID]; dup {
				bad("%s: flow id %s used twice", where, *e.ID)
			}
			m[*e.ID] = end
			// The flow must bind to a slice on its track: the one that
			// began last at or before it and has not ended (Perfetto takes
			// the top of the track's stack).
			if !enclosed(slices[end.tr], end.ts) {
				bad("%s: flow %s at %vµs is in no slice on pid %d tid %d", where, *e.ID, end.ts, end.tr.pid, end.tr.tid)
			}
		default:
			bad("%s: unexpected phase %q", where, ph)
		}
	}

	// Every flow start has its finish, later or at once, on another process.
	for id, s := range starts {
		f, ok := finishes[id]
		switch {
		case !ok:
			bad("flow %s starts but never finishes", id)
		case f.ts < s.ts:
			bad("flow %s finishes at %v before it starts at %v", id, f.ts, s.ts)
		case f.tr.pid == s.tr.pid:
			bad("flow %s stays within pid %d; a message goes from one side to the other", id, s.tr.pid)
		}
	}
	for id := range finishes {
		if _, ok := starts[id]; !ok {
			bad("flow %s finishes but never starts", id)
		}
	}

	// Slices on one track never partly overlap: Perfetto cannot draw that.
	for tr, ss := range slices {
		if threadNames[tr] == "" || processNames[tr.pid] == "" {
			bad("pid %d tid %d has slices but no name", tr.pid, tr.tid)
		}
		for i := range ss {
			for j := range i {
				a, b := ss[i], ss[j]
				nested := (a[0] >= b[0] && a[1] <= b[1]) || (b[0] >= a[0] && b[1] <= a[1])
				if a[0] < b[1] && b[0] < a[1] && !nested {
					bad("pid %d tid %d (%s): slices %v and %v partly overlap", tr.pid, tr.tid, threadNames[tr], a, b)
				}
			}
		}
	}

	// Against the calls: two processes each, one flow per heard message,
	// and each wait where it was measured, in microseconds.
	if got, want := len(processNames), 2*len(calls); got != want {
		bad("%d processes, want %d (two sides per call)", got, want)
	}
	heard, waited := 0, 0
	for _, c := range calls {
		for _, m := range c.Timeline.Messages {
			if m.Heard {
				heard++
			}
			if m.Sent && m.Waited() >= timeline.Resolution {
				waited++
				found := false
				for _, w := range waits {
					if math.Abs(*w.TS-float64(m.WantedAt)/1e3) <= 0.5 && math.Abs(*w.Dur-float64(m.Waited())/1e3) <= 1 {
						found = true
					}
				}
				if !found {
					bad("%s: the %s's wait of %v from %v has no slice at ts %vµs", c.Mode.Key, m.Label, m.Waited(), m.WantedAt, float64(m.WantedAt)/1e3)
				}
			}
		}
	}
	if len(starts) != heard {
		bad("%d flows, want one per heard message: %d", len(starts), heard)
	}
	if len(waits) != waited {
		bad("%d wait slices, want %d", len(waits), waited)
	}
	return problems
}

// enclosed reports whether the last slice beginning at or before ts ends at
// or after it.
func enclosed(ss [][2]float64, ts float64) bool {
	for i := len(ss) - 1; i >= 0; i-- {
		if ss[i][0] <= ts {
			return ss[i][1] >= ts
		}
	}
	return false
}

// checkTrace fails the test with every problem validate finds.
func checkTrace(t *testing.T, data []byte, calls []*result.Result) {
	t.Helper()
	for _, p := range validate(data, calls) {
		t.Error(p)
	}
}

// TestValidateCatches checks that the validator fails traces that break
// the format, so that its passing the real ones means something.
func TestValidateCatches(t *testing.T) {
	walkie, _ := exporttest.FakeCalls(t)
	var b bytes.Buffer
	if err := traceevent.Write(&b, walkie); err != nil {
		t.Fatal(err)
	}
	good := b.String()
	for _, tc := range []struct{ name, old, new string }{
		{"a flow without its finish", `"ph":"f"`, `"ph":"i","s":"t"`},
		{"a slice without dur", `"dur":`, `"dura":`},
		{"a flow finish not bound to its slice", `"bp":"e"`, `"bp":"n"`},
		{"an instant without scope", `"s":"t"`, `"s":"x"`},
		{"an unknown phase", `"ph":"X"`, `"ph":"Q"`},
	} {
		broken := strings.Replace(good, tc.old, tc.new, 1)
		if broken == good {
			t.Fatalf("%s: %q is not in the trace", tc.name, tc.old)
		}
		if len(validate([]byte(broken), []*result.Result{walkie})) == 0 {
			t.Errorf("%s: validate found nothing wrong", tc.name)
		}
	}
	if p := validate([]byte(good), []*result.Result{walkie}); len(p) > 0 {
		t.Errorf("the good trace has problems: %v", p)
	}
}

// linkedCalls plays the walkie and the phone with a 200KB photo on a 1Mbit
// link, on the fake clock.
func linkedCalls(t *testing.T) []*result.Result {
	t.Helper()
	script := calltest.Script(t, story.Options{Photo: 200_000})
	var calls []*result.Result
	synctest.Test(t, func(t *testing.T) {
		for _, m := range []call.Mode{halfduplex.Mode(), fullduplex.Mode()} {
			l := pipenet.Listen()
			res, err := call.Run(context.Background(), m, call.Config{Script: script, Latency: 40 * time.Millisecond, Bandwidth: link.Mbit, Listener: l, Dial: l.DialContext})
			if err != nil {
				t.Fatal(err)
			}
			calls = append(calls, res)
		}
	})
	return calls
}

// TestLinkTracks: on a link with a bandwidth, each call's grandchild has a
// "link up" track and its grandma a "link down" one, after their other
// tracks, with one busy slice for each time the link spent serialising
// that side's bytes, where it did; without a bandwidth, neither.
func TestLinkTracks(t *testing.T) {
	calls := linkedCalls(t)
	var b bytes.Buffer
	if err := traceevent.Write(&b, calls...); err != nil {
		t.Fatal(err)
	}
	checkTrace(t, b.Bytes(), calls)
	var f traceevent.File
	if err := json.Unmarshal(b.Bytes(), &f); err != nil {
		t.Fatal(err)
	}
	names := map[track]string{}
	order := map[track]int{}
	busy := map[track][]traceevent.Event{}
	for _, e := range f.TraceEvents {
		tr := track{e.PID, e.TID}
		switch {
		case e.Ph == "M" && e.Name == "thread_name":
			names[tr] = e.Args["name"].(string)
		case e.Ph == "M" && e.Name == "thread_sort_index":
			order[tr] = int(e.Args["sort_index"].(float64))
		case e.Ph == "X" && e.Name == "busy":
			busy[tr] = append(busy[tr], e)
		}
	}
	for i, c := range calls {
		for _, side := range []timeline.Side{timeline.Client, timeline.Server} {
			pid, name := 2*i+int(side)+1, "link up"
			if side == timeline.Server {
				name = "link down"
			}
			var tracks []track
			last := track{pid, -1}
			for tr, n := range names {
				if tr.pid != pid {
					continue
				}
				if n == name {
					tracks = append(tracks, tr)
				} else if last.tid < 0 || order[tr] > order[last] {
					last = tr
				}
			}
			if len(tracks) != 1 {
				t.Fatalf("%s %s: %d %q tracks, want 1", c.Mode.Key, side, len(tracks), name)
			}
			tr := tracks[0]
			if order[tr] <= order[last] {
				t.Errorf("%s %s: %q sorts at %d, not after %q at %d", c.Mode.Key, side, name, order[tr], names[last], order[last])
			}
			var want []result.BusySpan
			for _, s := range c.BusySpans {
				if s.From == side {
					want = append(want, s)
				}
			}
			got := busy[tr]
			if len(want) == 0 || len(got) != len(want) {
				t.Fatalf("%s %s: %d busy slices on %q, want one per busy span: %d", c.Mode.Key, side, len(got), name, len(want))
			}
			for j, s := range want {
				start, end := traceevent.Micros(s.Start.Round(time.Microsecond)/time.Microsecond), traceevent.Micros(s.End.Round(time.Microsecond)/time.Microsecond)
				if e := got[j]; e.TS != start || e.Dur == nil || *e.Dur != end-start || e.Cat != "link" {
					t.Errorf("%s %s: busy slice %d at %dµs for %vµs (%s), want at %dµs for %dµs", c.Mode.Key, side, j, e.TS, e.Dur, e.Cat, start, end-start)
				}
			}
		}
	}

	walkie, phone := exporttest.FakeCalls(t)
	b.Reset()
	if err := traceevent.Write(&b, walkie, phone); err != nil {
		t.Fatal(err)
	}
	if s := b.String(); strings.Contains(s, `"link up"`) || strings.Contains(s, `"link down"`) || strings.Contains(s, `"busy"`) {
		t.Error("a trace of calls without a bandwidth has link tracks")
	}
}
