package webpage_test

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/duplexdemo/duplexdemo/internal/browsertest"
	"github.com/duplexdemo/duplexdemo/internal/classroomtest"
	"github.com/duplexdemo/duplexdemo/pkg/class"
	"github.com/duplexdemo/duplexdemo/pkg/classroom"
	"github.com/duplexdemo/duplexdemo/pkg/classroom/webpage"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// reportTimeout bounds the wait for the page's report of a call once the
// call is over: a POST on the same machine, answered in milliseconds.
const reportTimeout = 15 * time.Second

// reported is what the page says of its report of a call
// (duplexdemoRuns[mode].reported).
type reported struct {
	Status int `json:"status"`
	ID     int `json:"id"`
}

// TestPageReportsItsCalls plays a walkie and a phone call from the page
// and checks the student's side of the class experiment: the page shows
// the anonymous name the server gave it, reports each call once it is
// over (201, and says so), and each call is in the class record under that
// name, with the interruption heard as long after it was wanted as the
// page itself showed; a reload keeps the name.
func TestPageReportsItsCalls(t *testing.T) {
	base := classroomtest.Serve(t, classroom.Config{Latency: 40 * time.Millisecond})
	b := browsertest.New(t)
	if err := chromedp.Do(b.Ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+"/"),
		chromedp.WaitEnabled(chromedp.CSS("#play-walkie"))); err != nil {
		t.Fatal(err)
	}
	name := studentShown(t, b)
	if !class.ValidName(name) {
		t.Fatalf("the page names its student %q; want a name the server gives, such as calm-otter-42", name)
	}

	heardAfter := map[string]float64{}
	ids := map[string]int{}
	for _, mode := range []string{"walkie", "phone"} {
		mustPlay(t, b.Ctx, mode)
		got, err := chromedp.Run(b.Ctx, chromedp.Poll[reported](`(() => { const r = window.duplexdemoRuns.`+mode+`; return r && r.reported ? r.reported : null; })()`,
			chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(reportTimeout)))
		if err != nil {
			t.Fatalf("%s: the page did not report its call within %v: %v (the browser reported %q)", mode, reportTimeout, err, b.Problems())
		}
		if got.Status != http.StatusCreated || got.ID < 1 {
			note, _ := chromedp.Run(b.Ctx, chromedp.Text(chromedp.CSS("#run-"+mode+" .reported")))
			t.Fatalf("%s: the report was answered %d (id %d); want 201 and the call's id (the page says %q)", mode, got.Status, got.ID, note)
		}
		ids[mode] = got.ID
		note, err := chromedp.Run(b.Ctx, chromedp.Text(chromedp.CSS("#run-"+mode+" .reported")))
		if err != nil {
			t.Fatal(err)
		}
		if want := "Your call is on the teacher\u2019s screen (call " + strconv.Itoa(got.ID) + ")."; note != want {
			t.Errorf("%s: after the report the page says %q; want %q", mode, note, want)
		}
		attrs, err := chromedp.Run(b.Ctx, chromedp.Attributes(chromedp.CSS(`table[data-mode="`+mode+`"]`)))
		if err != nil {
			t.Fatal(err)
		}
		if heardAfter[mode], err = strconv.ParseFloat(attrs["data-interruption-heard-after-ms"], 64); err != nil {
			t.Fatalf("%s: the interruption's heard-after is %q", mode, attrs["data-interruption-heard-after-ms"])
		}
	}

	// Both calls are in the class record, under the page's name, with what
	// the page showed.
	rec := classRecord(t, base)
	for _, mode := range []string{"walkie", "phone"} {
		var c *class.Call
		for i := range rec.Calls {
			if rec.Calls[i].ID == ids[mode] {
				c = &rec.Calls[i]
			}
		}
		if c == nil {
			t.Errorf("%s: call %d is not in the class record (%d calls)", mode, ids[mode], len(rec.Calls))
			continue
		}
		if c.Student != name || c.Mode != mode {
			t.Errorf("%s: call %d is in the class record as %s's %s call; want %s's %s call", mode, c.ID, c.Student, c.Mode, name, mode)
		}
		got := c.Summary.Interruption.HeardAfterMS
		if got != nil {
			t.Logf("%s: call %d, %s's: the interruption heard after %.3f ms on the page, %.3f ms in the class record", mode, c.ID, c.Student, heardAfter[mode], *got)
		}
		if got == nil {
			t.Errorf("%s: the class record has the interruption never heard; the page showed it heard after %.3f ms", mode, heardAfter[mode])
		} else if math.Abs(*got-heardAfter[mode]) > 1 {
			t.Errorf("%s: the class record has the interruption heard after %.3f ms; the page showed %.3f ms", mode, *got, heardAfter[mode])
		}
	}
	if len(rec.Calls) != 2 {
		t.Errorf("the class record holds %d calls; want the page's two", len(rec.Calls))
	}
	// The browser's walkie call, on as many connections as it took, is in
	// the group of its connections, apart from calls on one.
	groups := map[string]int{}
	for _, g := range rec.Stats(classroom.ClassModes()).Modes {
		groups[g.Group] = g.Calls
	}
	for _, c := range rec.Calls {
		want := c.Mode
		if c.Summary.Connections > 1 {
			want += class.MoreConnections
		}
		t.Logf("%s: %d connections, in the group %q", c.Mode, c.Summary.Connections, want)
		if groups[want] != 1 {
			t.Errorf("the %s call on %d connections: groups %v, want it alone in %q", c.Mode, c.Summary.Connections, groups, want)
		}
	}

	// A reload keeps the name: it is this browser's.
	if err := chromedp.Do(b.Ctx, chromedp.Reload(), chromedp.WaitEnabled(chromedp.CSS("#play-walkie"))); err != nil {
		t.Fatal(err)
	}
	if again := studentShown(t, b); again != name {
		t.Errorf("after a reload the page names its student %q; want the name it had, %q", again, name)
	}
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("the browser reported: %q", p)
	}
}

// studentShown returns the name the page shows its student, and checks the
// sentence that says it.
func studentShown(t *testing.T, b *browsertest.Browser) string {
	t.Helper()
	text, err := chromedp.Run(b.Ctx, chromedp.Text(chromedp.CSS("#student")))
	if err != nil {
		t.Fatal(err)
	}
	name, ok := strings.CutPrefix(text, "On the teacher's screen you are ")
	name, dot := strings.CutSuffix(name, ".")
	if !ok || !dot {
		t.Fatalf("the page says %q; want \"On the teacher's screen you are NAME.\"", text)
	}
	return name
}

// classRecord downloads the class experiment's record.
func classRecord(t *testing.T, base string) class.Record {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Get(base + classroom.RecordJSONPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", classroom.RecordJSONPath, resp.Status)
	}
	var rec class.Record
	if err := json.NewDecoder(resp.Body).Decode(&rec); err != nil {
		t.Fatalf("GET %s: %v", classroom.RecordJSONPath, err)
	}
	return rec
}

// TestPageWithoutAClassReportsNothing plays a phone call from a page whose
// server keeps no class experiment (its script names no report, as a
// grandma served on her own does), and checks that the page then reports
// nothing, and says nothing of the teacher's screen or of a name on it.
func TestPageWithoutAClassReportsNothing(t *testing.T) {
	h := webpage.Handler()
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc(webpage.ScriptPath, func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		var script map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &script); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		delete(script, "report")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(script)
	})
	mux.HandleFunc(fullduplex.Path, func(w http.ResponseWriter, r *http.Request) {
		s, err := wire.ParseScript(r.URL.Query())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rec := timeline.NewSideRecorder(timeline.Server, s.LineLabel, nil)
		fullduplex.NewGrandma(s, rec, fullduplex.Served{}).ServeHTTP(w, r)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	b := browsertest.New(t)
	if err := chromedp.Do(b.Ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitEnabled(chromedp.CSS("#play-phone"))); err != nil {
		t.Fatal(err)
	}
	mustPlay(t, b.Ctx, "phone")
	// A report would have begun at once; give it time to be seen.
	if err := chromedp.Do(b.Ctx, chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](`JSON.stringify([window.duplexdemoRuns.phone.reported, document.querySelector('#run-phone .reported').textContent, document.querySelector('#student').hidden])`))
	if err != nil {
		t.Fatal(err)
	}
	if got != `[null,"",true]` {
		t.Errorf("the page's report, what it says of it, and whether its name is hidden: %s; want no report, nothing said, no name shown", got)
	}
	for _, r := range b.Requests() {
		if strings.Contains(r, wire.ReportPath) {
			t.Errorf("the page asked for %s, though its server keeps no class", r)
		}
	}
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("the browser reported: %q", p)
	}
}

// TestPageWithoutStorageStillReports opens the page in a browser that
// keeps nothing for it (localStorage throws, as it does when storage is
// off) and checks that the student still gets a name for the visit, the
// one /script.json brought, and that her call is reported under it.
func TestPageWithoutStorageStillReports(t *testing.T) {
	base := classroomtest.Serve(t, classroom.Config{})
	b := browsertest.New(t)
	noStorage := `Object.defineProperty(window, 'localStorage', { get() { throw new DOMException('storage is off', 'SecurityError'); } });`
	if _, err := chromedp.Call(b.Ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: noStorage}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(b.Ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+"/"),
		chromedp.WaitEnabled(chromedp.CSS("#play-phone"))); err != nil {
		t.Fatal(err)
	}
	if off, err := chromedp.Run(b.Ctx, chromedp.Evaluate[bool](`(() => { try { return !localStorage; } catch (e) { return true; } })()`)); err != nil || !off {
		t.Fatalf("the page has storage after all (%v): this test tests nothing", err)
	}
	name := studentShown(t, b)
	if !class.ValidName(name) {
		t.Fatalf("without storage the page names its student %q; want the name /script.json brought", name)
	}
	mustPlay(t, b.Ctx, "phone")
	got, err := chromedp.Run(b.Ctx, chromedp.Poll[reported](`(() => { const r = window.duplexdemoRuns.phone; return r && r.reported ? r.reported : null; })()`,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(reportTimeout)))
	if err != nil {
		t.Fatalf("the page did not report its call within %v: %v", reportTimeout, err)
	}
	if got.Status != http.StatusCreated {
		t.Fatalf("the report was answered %d; want 201", got.Status)
	}
	rec := classRecord(t, base)
	if len(rec.Calls) != 1 || rec.Calls[0].Student != name {
		t.Errorf("the class record holds %d calls, the first under %q; want the page's call, under %q", len(rec.Calls), firstStudent(rec), name)
	}
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("the browser reported: %q", p)
	}
}

func firstStudent(rec class.Record) string {
	if len(rec.Calls) == 0 {
		return ""
	}
	return rec.Calls[0].Student
}
