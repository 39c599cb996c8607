package webpage_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/duplexdemo/duplexdemo/internal/browsertest"
	"github.com/duplexdemo/duplexdemo/internal/classroomtest"
	"github.com/duplexdemo/duplexdemo/pkg/class"
	"github.com/duplexdemo/duplexdemo/pkg/classroom"
)

// TestWebTransportCall plays the page's WebTransport call in headless
// Chromium, its certificate pinned by serverCertificateHashes: the call
// plays to its end with both sides joined, the interruption goes at once,
// and the call is on the teacher's screen.
func TestWebTransportCall(t *testing.T) {
	room, _, err := class.Open(class.Options{Modes: classroom.ClassModes(), Script: classroom.ClassScript()})
	if err != nil {
		t.Fatal(err)
	}
	defer room.Close()
	base := classroomtest.ServeWithUDP(t, classroom.Config{Latency: 20 * time.Millisecond, Class: room})
	b := browsertest.New(t)
	if err := chromedp.Do(b.Ctx, chromedp.Navigate(base+"/"), chromedp.WaitEnabled(chromedp.CSS("#play-phone"))); err != nil {
		t.Fatal(err)
	}
	has, err := chromedp.Run(b.Ctx, chromedp.Evaluate[bool](`'WebTransport' in window`))
	if err != nil {
		t.Fatal(err)
	}
	if !has {
		browsertest.Missing(t, "this Chromium has no WebTransport")
	}
	mustPlay(t, b.Ctx, "webtransport")
	type run struct {
		Connections  int `json:"connections"`
		Interruption struct {
			Waited *float64 `json:"waited"`
		} `json:"interruption"`
		Reported *struct {
			Status int `json:"status"`
		} `json:"reported"`
	}
	wait, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	defer cancel()
	got, err := chromedp.Run(wait, chromedp.Poll[run](`(() => { const r = window.duplexdemoRuns.webtransport; return r && r.reported ? r : null; })()`,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(0)))
	if err != nil {
		t.Fatal(err)
	}
	// At once: on a busy machine a browser's timers may run late, but
	// nowhere near the rest of the story (over 600 ms), which the walkie's
	// interruption waits for.
	if got.Interruption.Waited == nil || *got.Interruption.Waited > 200 {
		t.Errorf("the interruption waited %v ms; on WebTransport it goes at once", got.Interruption.Waited)
	}
	if got.Reported.Status != 201 {
		t.Errorf("the report was answered %d, want 201", got.Reported.Status)
	}
	if n := len(room.Record().Calls); n != 1 || room.Record().Calls[0].Call.Mode != "webtransport" {
		t.Errorf("the class has %d calls (%+v); want the WebTransport call", n, room.Record().Calls)
	}
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("the browser reported: %s", strings.Join(p, "\n"))
	}
}
