package htmlreport_test

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/result"

	"github.com/chromedp/chromedp"

	"github.com/duplexdemo/duplexdemo/internal/browsertest"
	"github.com/duplexdemo/duplexdemo/internal/exporttest"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/link"
	"github.com/duplexdemo/duplexdemo/pkg/modes"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/view/htmlreport"
)

var docs = flag.String("docs", "", "write a screenshot of each report, from calls on real sockets, to this directory (../../docs)")

// TestInBrowser opens each report in headless Chromium and checks what a
// reader would see: the page renders without a console error or a request
// for anything, it has one lane per side of each call, and each wait the
// call measured is drawn with its length and reason.
func TestInBrowser(t *testing.T) {
	walkie, phone := exporttest.FakeCalls(t)
	if *docs != "" {
		walkie, phone = realCalls(t)
	}
	b := browsertest.New(t)
	dir := t.TempDir()
	for _, tc := range exporttest.Cases(walkie, phone, "") {
		t.Run(tc.Name, func(t *testing.T) {
			path := filepath.Join(dir, tc.Name+".html")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := htmlreport.Write(f, tc.Calls...); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			url := "file://" + path
			seenRequests, seenProblems := len(b.Requests()), len(b.Problems())
			if err := chromedp.Do(b.Ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("svg.lanes"))); err != nil {
				t.Fatal(err)
			}

			for _, c := range tc.Calls {
				for _, side := range []string{"client", "server"} {
					sel := fmt.Sprintf(`g.lane[data-mode=%q][data-side=%q]`, c.Mode.Key, side)
					n, err := chromedp.Run(b.Ctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll('%s').length", sel)))
					if err != nil {
						t.Fatal(err)
					}
					if n != 1 {
						t.Errorf("%d lanes for the %s's %s, want 1", n, c.Mode.Key, side)
					}
				}
				type drawn struct {
					Side, Label, Reason, Waited, Text string
					Width                             float64
				}
				waits, err := chromedp.Run(b.Ctx, chromedp.Evaluate[[]drawn](fmt.Sprintf(`[...document.querySelectorAll('g.wait[data-mode=%q]')].map(g => ({
					Side: g.dataset.side, Label: g.dataset.label, Reason: g.dataset.reason, Waited: g.dataset.waitedMs,
					Text: g.querySelector('text').textContent, Width: g.querySelector('rect').getBoundingClientRect().width}))`, c.Mode.Key)))
				if err != nil {
					t.Fatal(err)
				}
				var want []timeline.Message
				for _, m := range c.Timeline.Messages {
					if m.Sent && m.Waited() >= timeline.Resolution {
						want = append(want, m)
					}
				}
				if len(waits) != len(want) {
					t.Fatalf("%s: %d waits drawn, %d measured: %+v", c.Mode.Key, len(waits), len(want), waits)
				}
				for i, m := range want {
					w := waits[i]
					got, err := strconv.ParseFloat(w.Waited, 64)
					if err != nil || math.Abs(got-float64(m.Waited())/float64(time.Millisecond)) > 0.001 {
						t.Errorf("%s: the %s's wait is drawn as %q ms, measured %v", c.Mode.Key, m.Label, w.Waited, m.Waited())
					}
					if w.Side != m.From.String() || w.Label != m.Label || w.Reason != m.Reason {
						t.Errorf("%s: wait drawn for %s's %s (%s), measured for %s's %s (%s)", c.Mode.Key, w.Side, w.Label, w.Reason, m.From, m.Label, m.Reason)
					}
					wantText := fmt.Sprintf("%s waited %d ms: %s", m.Label, m.Waited().Round(time.Millisecond).Milliseconds(), m.Reason)
					if w.Text != wantText {
						t.Errorf("%s: wait labelled %q, want %q", c.Mode.Key, w.Text, wantText)
					}
					if w.Width <= 0 {
						t.Errorf("%s: the %s's wait is not visible (width %v)", c.Mode.Key, m.Label, w.Width)
					}
				}
			}
			for _, r := range b.Requests()[seenRequests:] {
				if r != url {
					t.Errorf("the page asked for %s; it must load nothing", r)
				}
			}
			if p := b.Problems()[seenProblems:]; len(p) > 0 {
				t.Errorf("the browser reported: %q", p)
			}
			if *docs != "" {
				png, err := chromedp.Run(b.Ctx, chromedp.Screenshot(chromedp.CSS("div.picture")))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(*docs, tc.Name+".png"), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// realCalls plays both modes at once on real sockets with the default
// script and link, as `duplexdemo compare` does.
func realCalls(t *testing.T) (walkie, phone *result.Result) {
	t.Helper()
	results, err := modes.RunAll(context.Background(), func(call.Mode) call.Config {
		return call.Config{Script: story.Default(), Latency: 40 * time.Millisecond}
	}, modes.Ends())
	if err != nil {
		t.Fatal(err)
	}
	walkie, phone = results[0], results[1]
	return walkie, phone
}

// TestLinkInBrowser opens the report of calls on a link with a bandwidth
// and checks that each call shows a lane for each direction of the link,
// with every busy time drawn visible, the page loading nothing and
// reporting no problem, and every label inside its picture, on screen and
// printed.
func TestLinkInBrowser(t *testing.T) {
	calls := photoCalls(t, link.Mbit)
	b := browsertest.New(t)
	seenRequests, seenProblems := len(b.Requests()), len(b.Problems())
	path := filepath.Join(t.TempDir(), "link.html")
	open(t, b, path, calls)
	for _, c := range calls {
		for _, from := range []string{"client", "server"} {
			want := 0
			for _, s := range c.BusySpans {
				if s.From.String() == from {
					want++
				}
			}
			type drawn struct {
				Lanes int
				Busy  []float64
			}
			got, err := chromedp.Run(b.Ctx, chromedp.Evaluate[drawn](fmt.Sprintf(`(() => {
				const lanes = document.querySelectorAll('g.link[data-mode=%q][data-from=%q]');
				return {Lanes: lanes.length, Busy: [...document.querySelectorAll('g.link[data-mode=%q][data-from=%q] rect.busy')].map(r => r.getBoundingClientRect().width)};
			})()`, c.Mode.Key, from, c.Mode.Key, from)))
			if err != nil {
				t.Fatal(err)
			}
			if got.Lanes != 1 || len(got.Busy) != want {
				t.Errorf("%s: %d link lanes from the %s with %d busy times, want 1 with %d", c.Mode.Key, got.Lanes, from, len(got.Busy), want)
			}
			for i, w := range got.Busy {
				if w <= 0 {
					t.Errorf("%s: busy time %d from the %s is not visible (width %v)", c.Mode.Key, i, from, w)
				}
			}
		}
	}
	checkInside(t, measure(t, b))
	if err := chromedp.Do(b.Ctx, emulateMedia("print")); err != nil {
		t.Fatal(err)
	}
	checkInside(t, measure(t, b))
	for _, r := range b.Requests()[seenRequests:] {
		if r != "file://"+path {
			t.Errorf("the page asked for %s; it must load nothing", r)
		}
	}
	if p := b.Problems()[seenProblems:]; len(p) > 0 {
		t.Errorf("the browser reported: %q", p)
	}
}
