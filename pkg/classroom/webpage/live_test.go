package webpage_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/duplexdemo/duplexdemo/internal/browsertest"
	"github.com/duplexdemo/duplexdemo/internal/classroomtest"
	"github.com/duplexdemo/duplexdemo/pkg/classroom"
)

// sampleJS watches the figure of a call (its mode is the argument) from
// the press of its button, and checks every picture the page draws while
// the call runs against the time since that press, which is at least the
// page's own time since the call began: no wait may say it lasted longer,
// no wait's bar may reach past that time on the figure's axis (by more
// than the 3 pixels a short wait is drawn wide), and no two labels may
// overlap. It keeps the worst it saw in window.liveSamples.
const sampleJS = `((mode) => {
  const overlaps = ` + overlapsJS + `;
  const fig = document.querySelector('#run-' + mode + ' .figure');
  const L = window.liveSamples = { pressed: null, samples: 0, live: 0, worstMs: -Infinity, worst: '', pastNow: [], overlaps: [] };
  document.querySelector('#play-' + mode).addEventListener('click', () => { if (L.pressed === null) L.pressed = performance.now(); }, { capture: true });
  new MutationObserver(() => {
    if (L.pressed === null || !document.querySelector('#status').textContent.startsWith('Calling')) return;
    const svg = fig.querySelector('svg');
    if (!svg) return;
    const elapsed = performance.now() - L.pressed;
    L.samples++;
    for (const g of svg.querySelectorAll('g.wait')) {
      const waited = parseFloat(g.dataset.waitedMs);
      if (waited - elapsed > L.worstMs) { L.worstMs = waited - elapsed; L.worst = (g.querySelector('text') || g.querySelector('title')).textContent + ' (drawn ' + Math.round(elapsed) + ' ms after the press)'; }
      for (const m of g.textContent.matchAll(/(\d+) ms/g)) {
        if (+m[1] > elapsed + 1) L.pastNow.push(JSON.stringify(g.textContent) + ' at ' + Math.round(elapsed) + ' ms');
      }
    }
    if (svg.dataset.nowMs === undefined) return; // not a live picture
    L.live++;
    const left = +svg.dataset.left, plot = +svg.dataset.plot, total = +svg.dataset.totalMs;
    const x = (t) => left + Math.min(t, total) / total * plot;
    const scale = svg.getScreenCTM().a, origin = svg.getBoundingClientRect().left;
    for (const r of svg.querySelectorAll('g.wait rect')) {
      const b = r.getBoundingClientRect();
      const end = (b.right - origin) / scale;
      if (end > x(elapsed) + 3.5) L.pastNow.push('the bar of ' + JSON.stringify(r.parentNode.dataset.label) + ' ends at x=' + end.toFixed(1) + ', past now (x=' + x(elapsed).toFixed(1) + ', ' + Math.round(elapsed) + ' ms)');
    }
    for (const o of overlaps(svg)) if (L.overlaps.length < 20) L.overlaps.push(o + ' at ' + Math.round(elapsed) + ' ms');
  }).observe(fig, { childList: true, subtree: true });
  return true;
})`

// TestLivePictureNeverWaitsPastNow samples the live picture of a walkie
// and a phone call every time the page redraws it, and checks that no wait
// is drawn or said to be longer than the call has lasted, and that no two
// labels overlap. A wait that has not ended is drawn up to the page's now,
// and grows; before, the question's pending wait was drawn to the end of
// the axis ("question waited 2998 ms: connecting" 0.12 s into the call).
func TestLivePictureNeverWaitsPastNow(t *testing.T) {
	base := classroomtest.Serve(t, classroom.Config{Latency: 40 * time.Millisecond})
	b := browsertest.New(t)
	if err := chromedp.Do(b.Ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+"/"),
		chromedp.WaitEnabled(chromedp.CSS("#play-walkie"))); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"walkie", "phone"} {
		if _, err := chromedp.Run(b.Ctx, chromedp.Evaluate[bool](sampleJS+`('`+mode+`')`)); err != nil {
			t.Fatal(err)
		}
		mustPlay(t, b.Ctx, mode)
		got, err := chromedp.Run(b.Ctx, chromedp.Evaluate[liveSamples](`window.liveSamples`))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d pictures drawn while the call ran (%d live), the longest wait against the time elapsed: %+.0f ms (%s)", mode, got.Samples, got.Live, got.WorstMs, got.Worst)
		if got.Live < 5 {
			t.Errorf("%s: only %d live pictures drawn during a call of seconds; want it redrawn as it runs", mode, got.Live)
		}
		if len(got.PastNow) > 0 {
			t.Errorf("%s: waits longer than the call so far:\n%s", mode, strings.Join(got.PastNow, "\n"))
		}
		if len(got.Overlaps) > 0 {
			t.Errorf("%s: overlapping labels in the live picture:\n%s", mode, strings.Join(got.Overlaps, "\n"))
		}
	}
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("the browser reported: %q", p)
	}
}

// liveSamples is what sampleJS saw.
type liveSamples struct {
	Samples  int      `json:"samples"`
	Live     int      `json:"live"`
	WorstMs  float64  `json:"worstMs"`
	Worst    string   `json:"worst"`
	PastNow  []string `json:"pastNow"`
	Overlaps []string `json:"overlaps"`
}
