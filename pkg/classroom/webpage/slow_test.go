package webpage_test

import (
	"context"
	"flag"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/duplexdemo/duplexdemo/internal/browsertest"
	"github.com/duplexdemo/duplexdemo/internal/classroomtest"
	"github.com/duplexdemo/duplexdemo/pkg/classroom"
)

var slowCalls = flag.Int("slow-calls", 20, "walkie calls TestWalkieOnASlowDevice plays at 8x CPU slowdown")

// slowTabs is how many pages TestWalkieOnASlowDevice plays its calls in at
// once, each in a browser context of its own (its own connections, as on
// students' own devices), one call after another.
const slowTabs = 5

// TestWalkieOnASlowDevice plays walkie calls from the page with Chromium's
// CPU slowed down 8 times, as on a cheap phone, and checks that every call
// ends with its numbers, never "The call failed". On such a device the
// answer to the interruption, which comes on the browser's second
// connection, is often read after a later line of the story; the server
// completes every one of these calls, so the page must too.
func TestWalkieOnASlowDevice(t *testing.T) {
	base := classroomtest.Serve(t, classroom.Config{})
	b := browsertest.New(t)
	if err := chromedp.Do(b.Ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	n := *slowCalls
	var mu sync.Mutex
	var failed []string
	played := 0
	var wg sync.WaitGroup
	for tab := range slowTabs {
		ctx, cancel := chromedp.NewContext(b.Ctx, chromedp.WithNewBrowserContext())
		defer cancel()
		calls := n / slowTabs
		if tab < n%slowTabs {
			calls++
		}
		wg.Go(func() {
			if err := chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitEnabled(chromedp.CSS("#play-walkie"))); err != nil {
				t.Error(err)
				return
			}
			if _, err := chromedp.Call(ctx, emulation.SetCPUThrottlingRate, emulation.SetCPUThrottlingRateParams{Rate: 8}); err != nil {
				t.Error(err)
				return
			}
			for i := range calls {
				status, err := playOnce(ctx, "walkie")
				if err != nil {
					t.Errorf("tab %d, call %d: %v", tab+1, i+1, err)
					return
				}
				mu.Lock()
				played++
				if strings.Contains(status, "failed") {
					failed = append(failed, status)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("at 8x CPU slowdown, %d of %d walkie calls failed on the page", len(failed), played)
	if played != n {
		t.Errorf("played %d of %d calls", played, n)
	}
	for _, f := range failed {
		t.Errorf("the page said %q", f)
	}
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("the browser reported: %q", p)
	}
}

// TestTwentyTabsHearTheAfterthought opens the page in twenty tabs of one
// browser and places a phone call from each at once, as a class does. A
// browser opens one WebSocket to a host at a time, so some calls take a
// second or more to open; grandma's clock starts only when the call
// reaches her, and each page must still give her afterthought its time
// before it says goodbye.
func TestTwentyTabsHearTheAfterthought(t *testing.T) {
	base := classroomtest.Serve(t, classroom.Config{})
	b := browsertest.New(t)
	if err := chromedp.Do(b.Ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	const tabs = 20
	ctxs := make([]context.Context, tabs)
	for i := range ctxs {
		ctx, cancel := chromedp.NewContext(b.Ctx)
		defer cancel()
		ctxs[i] = ctx
	}
	var loaded, wg sync.WaitGroup
	start := make(chan struct{})
	results := make([]string, tabs)
	loaded.Add(tabs)
	for i, ctx := range ctxs {
		wg.Go(func() {
			err := chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitEnabled(chromedp.CSS("#play-phone")))
			loaded.Done()
			if err != nil {
				results[i] = "loading the page: " + err.Error()
				return
			}
			<-start
			status, err := playOnce(ctx, "phone")
			if err != nil {
				results[i] = err.Error()
				return
			}
			heard, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!(duplexdemoRuns.phone && duplexdemoRuns.phone.lines.some((l) => l.from === 'server' && l.label === 'afterthought' && l.heard))`))
			if err != nil {
				results[i] = err.Error()
				return
			}
			if !heard {
				row, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('#run-phone table tr')].map((r) => r.textContent).join(' / ')`))
				results[i] = "no afterthought: " + status + " | " + row
			}
		})
	}
	loaded.Wait()
	close(start)
	wg.Wait()
	bad := 0
	for i, r := range results {
		if r != "" {
			bad++
			t.Errorf("tab %d: %s", i+1, r)
		}
	}
	t.Logf("%d of %d tabs calling at once heard grandma's afterthought", tabs-bad, tabs)
}
