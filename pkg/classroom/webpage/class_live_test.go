package webpage_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/duplexdemo/duplexdemo/internal/browsertest"
	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/internal/classroomtest"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/class"
	"github.com/duplexdemo/duplexdemo/pkg/classroom"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
	"github.com/duplexdemo/duplexdemo/pkg/story"
)

const (
	// students is how many calls TestClassViewWith200Students places at
	// once, walkie and phone in turn: a large class, each student playing
	// both.
	students = 200
	// studentSpeed plays their script twice as fast: the view's work is
	// the same, and the test takes half as long.
	studentSpeed = 2
	// shownP95 bounds the 95th percentile of the time from a call's report
	// being accepted to the view showing it: a projector that lags by more
	// than a few seconds behind the students who just finished no longer
	// reads as live. The page itself takes a frame; the rest is a busy
	// 2-core machine running two hundred calls, the server and Chromium
	// at once under the race detector.
	shownP95 = 5 * time.Second
	// shownMax bounds the slowest.
	shownMax = 15 * time.Second
	// teacherToken is the test's teacher's token.
	teacherToken = "0123456789abcdef0123456789abcdef"
)

// waitFor polls js in ctx until it is true, for at most d.
func waitFor(t *testing.T, ctx context.Context, what, js string, d time.Duration) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(d))); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// postNew asks the server to start a new experiment with the
// Authorization header auth (none if empty), and returns its status.
func postNew(t *testing.T, base, auth string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+classroom.NewExperimentPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// record downloads the experiment as the teacher's view does, and reads it
// back.
func record(t *testing.T, base string) *class.Record {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Get(base + classroom.RecordJSONPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s", classroom.RecordJSONPath, resp.Status)
	}
	rec, _, err := class.Read(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// accepted is a call whose report the server accepted: its id in the
// experiment, and when RunRemote returned with it, in ms since 1970.
type accepted struct {
	id   int
	mode string
	at   float64
}

// TestClassViewWith200Students opens the teacher's view in headless
// Chromium, on the teacher's screen (with the token) and on a student's
// (without), and places 200 calls at once from Go, each reported to the
// class as a student's duplexdemo does. It measures, for each call, the
// time from its report being accepted to the view showing it, and checks
// that the view shows every call, newest first, with the distributions
// the record downloaded as JSON gives; that a student can neither see the
// teacher's control nor start a new experiment (the server refuses 401
// without the token and 403 with a wrong one, and nothing is cleared);
// and that the teacher's control clears the view.
func TestClassViewWith200Students(t *testing.T) {
	if testing.Short() {
		t.Skip("places 200 calls")
	}
	base := classroomtest.Serve(t, classroom.Config{MaxCalls: 2 * students, TeacherToken: teacherToken})
	b := browsertest.New(t)
	teacher := b.Ctx
	if err := chromedp.Do(teacher, chromedp.EmulateViewport(1920, 1080), chromedp.Navigate(base+"/class#teacher="+teacherToken)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, teacher, "the teacher's view to connect", `window.duplexdemoClass && duplexdemoClass.snapshots > 0 && duplexdemoClass.status === 'live'`, 20*time.Second)
	// The token leaves the address bar at once, kept for the tab alone.
	if got := eval[string](t, teacher, `[location.href, sessionStorage.getItem('duplexdemo-teacher'), String(!document.querySelector('#new-experiment').hidden), String(document.querySelector('#teacher-note').hidden)].join(' ')`); got != base+"/class "+teacherToken+" true true" {
		t.Errorf("the teacher's view: address, token kept, control shown, note hidden = %q; want the address without its token, the token kept, the control and no note", got)
	}

	student, cancelStudent := chromedp.NewContext(b.Ctx)
	defer cancelStudent()
	if err := chromedp.Do(student, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(base+"/class")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, student, "a student's view to connect", `window.duplexdemoClass && duplexdemoClass.snapshots > 0`, 20*time.Second)
	if got := eval[string](t, student, `[String(!!document.querySelector('#new-experiment')), document.querySelector('#teacher-note').hidden ? '' : document.querySelector('#teacher-note').textContent].join(' | ')`); got != "false | Only the teacher's screen can start a new experiment." {
		t.Errorf("a student's view: control shown, note = %q; want no control, and the note", got)
	}

	// Two hundred students, each with her own name, all at once.
	script := calltest.Script(t, story.Options{Speed: studentSpeed})
	modes := []call.Mode{halfduplex.Mode(), fullduplex.Mode()}
	var (
		mu    sync.Mutex
		done  []accepted
		wg    sync.WaitGroup
		ready = make(chan struct{})
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := range students {
		m := modes[i%2]
		wg.Go(func() {
			<-ready
			res, err := call.RunRemote(ctx, m, call.Config{Script: script, Student: class.NewName()}, base)
			at := float64(time.Now().UnixNano()) / 1e6
			if err != nil {
				t.Errorf("student %d, %s: %v", i+1, m.Key, err)
				return
			}
			if res.Reported <= 0 {
				t.Errorf("student %d, %s: the call was not reported", i+1, m.Key)
				return
			}
			mu.Lock()
			done = append(done, accepted{res.Reported, m.Key, at})
			mu.Unlock()
		})
	}
	begin := time.Now()
	close(ready)
	wg.Wait()
	t.Logf("%d calls placed at once, all reported in %v", len(done), time.Since(begin).Round(time.Millisecond))
	if len(done) != students {
		t.Fatalf("%d of %d calls were reported", len(done), students)
	}
	waitFor(t, teacher, "every call on the teacher's view", fmt.Sprintf(`Object.keys(duplexdemoClass.shown).length >= %d`, students), 30*time.Second)

	// From each call's report accepted to the view showing it.
	seen := eval[map[string]float64](t, teacher, `duplexdemoClass.seen`)
	shown := eval[map[string]float64](t, teacher, `duplexdemoClass.shown`)
	var lags, arrivals []float64
	for _, a := range done {
		id := strconv.Itoa(a.id)
		s, ok := shown[id]
		if !ok {
			t.Errorf("call %d is not on the view", a.id)
			continue
		}
		if seen[id] > s {
			t.Errorf("call %d was shown at %.1f, before it arrived at %.1f", a.id, s, seen[id])
		}
		lags = append(lags, s-a.at)
		arrivals = append(arrivals, seen[id]-a.at)
	}
	slices.Sort(lags)
	slices.Sort(arrivals)
	probe := eval[map[string]float64](t, teacher, `({ events: duplexdemoClass.events, frames: duplexdemoClass.frames, built: duplexdemoClass.built, drawMS: duplexdemoClass.drawMS, longestMS: duplexdemoClass.longestMS })`)
	t.Logf("from a call's report accepted (RunRemote returned) to its event at the view: p50 %.0f ms, p95 %.0f ms, max %.0f ms", percentile(arrivals, 50), percentile(arrivals, 95), percentile(arrivals, 100))
	t.Logf("from a call's report accepted to the view showing it: p50 %.0f ms, p95 %.0f ms, max %.0f ms (min %.0f ms: the server tells the view before it answers the student)", percentile(lags, 50), percentile(lags, 95), percentile(lags, 100), percentile(lags, 0))
	t.Logf("the view drew %.0f frames for %.0f events, in %.0f ms (the longest %.0f ms), and built %.0f rows for %d calls", probe["frames"], probe["events"], probe["drawMS"], probe["longestMS"], probe["built"], students)
	if p := percentile(lags, 95); p > float64(shownP95.Milliseconds()) {
		t.Errorf("95%% of calls were shown within %.0f ms of their report; want within %v", p, shownP95)
	}
	if p := percentile(lags, 100); p > float64(shownMax.Milliseconds()) {
		t.Errorf("a call was shown %.0f ms after its report; want within %v", p, shownMax)
	}

	// Every call counted; each mode's rows newest first, the newest on top.
	if got := eval[string](t, teacher, `document.querySelector('#counts').dataset.calls`); got != strconv.Itoa(students) {
		t.Errorf("the view counts %s calls, want %d", got, students)
	}
	rows := eval[map[string][]int](t, teacher, `Object.fromEntries([...document.querySelectorAll('ol.rows')].map((l) => [l.dataset.mode, [...l.children].map((r) => +r.dataset.callId)]))`)
	newest := map[string]int{}
	for _, a := range done {
		newest[a.mode] = max(newest[a.mode], a.id)
	}
	for _, m := range modes {
		ids := rows[m.Key]
		if len(ids) == 0 {
			t.Errorf("%s: no rows drawn", m.Key)
			continue
		}
		if ids[0] != newest[m.Key] {
			t.Errorf("%s: the top row is call %d, want the newest, %d", m.Key, ids[0], newest[m.Key])
		}
		if !slices.IsSortedFunc(ids, func(a, b int) int { return b - a }) {
			t.Errorf("%s: rows %v, want newest first", m.Key, ids)
		}
		note := eval[string](t, teacher, `document.querySelector('section.mode[data-mode="`+m.Key+`"] .hidden-note').textContent`)
		if hidden := students/2 - len(ids); hidden > 0 && !strings.Contains(note, strconv.Itoa(hidden)+" older calls are not drawn") {
			t.Errorf("%s: %d rows drawn of %d, and the note says %q", m.Key, len(ids), students/2, note)
		}
	}

	// The distributions as the downloaded record gives them.
	rec := record(t, base)
	if len(rec.Calls) != students {
		t.Fatalf("the record holds %d calls, want %d", len(rec.Calls), students)
	}
	checkStrips(t, teacher, rec.Stats(classroom.ClassModes()))
	shoot(t, teacher, "class-live.png")

	// A student cannot start a new experiment: not without the token, not
	// with a wrong one, not from her page.
	if got := postNew(t, base, ""); got != http.StatusUnauthorized {
		t.Errorf("a new experiment without a token: %d, want %d", got, http.StatusUnauthorized)
	}
	if got := postNew(t, base, "Bearer not-the-token"); got != http.StatusForbidden {
		t.Errorf("a new experiment with a wrong token: %d, want %d", got, http.StatusForbidden)
	}
	// A new page, not a move within this one: the hash alone would not load it again.
	if err := chromedp.Do(student, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(student, chromedp.Navigate(base+"/class#teacher=not-the-token"), chromedp.WaitVisible(chromedp.CSS("#new-experiment"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, student, "the student's view with a wrong token", `window.duplexdemoClass && duplexdemoClass.snapshots > 0 && !document.querySelector('#new-experiment').hidden`, 20*time.Second)
	if err := chromedp.Do(student, chromedp.Click(chromedp.CSS("#new-experiment")), chromedp.Click(chromedp.CSS("#confirm-yes"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, student, "the refusal", `document.querySelector('#teacher-status').textContent !== ''`, 10*time.Second)
	if got := eval[string](t, student, `document.querySelector('#teacher-status').textContent`); !strings.Contains(got, "refused") {
		t.Errorf("after a refusal the page says %q; want that the server refused", got)
	}
	if rec := record(t, base); rec.Experiment.Number != 1 || len(rec.Calls) != students {
		t.Errorf("after the students' tries the record is experiment %d with %d calls; want experiment 1, still %d", rec.Experiment.Number, len(rec.Calls), students)
	}
	if got := eval[string](t, teacher, `duplexdemoClass.experiment + ' ' + document.querySelector('#counts').dataset.calls`); got != "1 "+strconv.Itoa(students) {
		t.Errorf("after the students' tries the teacher's view shows experiment and calls %q; want 1 %d", got, students)
	}

	// The teacher can, after saying so twice.
	if err := chromedp.Do(teacher, chromedp.Click(chromedp.CSS("#new-experiment"))); err != nil {
		t.Fatal(err)
	}
	if got := eval[string](t, teacher, `document.activeElement.id + ' ' + document.querySelector('#confirm-yes').textContent`); got != "confirm-no Yes, start experiment 2" {
		t.Errorf("the confirmation: focus and button %q; want the focus on Cancel and the button naming experiment 2", got)
	}
	if err := chromedp.Do(teacher, chromedp.Click(chromedp.CSS("#confirm-yes"))); err != nil {
		t.Fatal(err)
	}
	clear := `duplexdemoClass.experiment === 2 && document.querySelector('#counts').dataset.calls === '0' && document.querySelectorAll('li.row').length === 0 && document.querySelectorAll('svg.dist g.strip[data-count="0"]').length === document.querySelectorAll('svg.dist g.strip').length`
	waitFor(t, teacher, "the teacher's view to clear", clear, 10*time.Second)
	waitFor(t, student, "the student's view to clear", clear, 10*time.Second)
	if got := eval[string](t, teacher, `document.querySelector('#teacher-status').textContent`); got != "Experiment 2 started: the view is clear." {
		t.Errorf("after a new experiment the teacher's view says %q", got)
	}
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("the teacher's view reported: %q", p)
	}
}

// TestClassViewSaysReconnecting stops the server under an open view: the
// view keeps what it showed and says it is reconnecting.
func TestClassViewSaysReconnecting(t *testing.T) {
	srv := classroomtest.Start(t, classroom.Config{})
	b := browsertest.New(t)
	if err := chromedp.Do(b.Ctx, chromedp.Navigate(srv.URL+"/class")); err != nil {
		t.Fatal(err)
	}
	// Live, and its first snapshot drawn: the stream may open a frame
	// before the distributions are on the page.
	waitFor(t, b.Ctx, "the view to connect and draw", `window.duplexdemoClass && duplexdemoClass.status === 'live' && document.querySelectorAll('svg.dist').length === 4`, 20*time.Second)
	if _, err := srv.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b.Ctx, "the view to say it is reconnecting", `duplexdemoClass.status === 'reconnecting' && document.querySelector('#connection').textContent.startsWith('Reconnecting')`, 20*time.Second)
	if n := eval[int](t, b.Ctx, `document.querySelectorAll('svg.dist').length`); n != 4 {
		t.Errorf("reconnecting, the view shows %d distributions, want the 4 it had", n)
	}
}
