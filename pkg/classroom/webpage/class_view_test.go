package webpage_test

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/duplexdemo/duplexdemo/internal/browsertest"
	"github.com/duplexdemo/duplexdemo/pkg/class"
	"github.com/duplexdemo/duplexdemo/pkg/result"
)

var classShots = flag.String("class-shots", "", "write screenshots of the teacher's view to this directory")

// strip is one mode's distribution of one measure, as the view draws it.
type strip struct {
	Group, Key, Median, Label string
	Calls, Count, Never       int
}

// stripsJS lists the view's strips, from their data-* attributes and the
// median's label.
const stripsJS = `[...document.querySelectorAll('svg.dist g.strip')].map((g) => ({
  Group: g.dataset.group, Key: g.dataset.key, Median: g.dataset.median,
  Label: (g.querySelector('.median-label') || {}).textContent || '',
  Calls: +g.dataset.calls, Count: +g.dataset.count, Never: +g.dataset.never }))`

// checkStrips checks that the view draws st as the server worked it out:
// for every mode and measure, its calls, how many had a value and how
// many never, and the median, in its data and in its label.
func checkStrips(t *testing.T, ctx context.Context, st class.Stats) {
	t.Helper()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]strip](stripsJS))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]strip{}
	for _, s := range got {
		seen[s.Group+" "+s.Key] = s
	}
	n := 0
	for _, m := range st.Modes {
		for _, d := range m.Measures {
			n++
			s, ok := seen[m.Group+" "+d.Key]
			if !ok {
				t.Errorf("%s %s: not drawn", m.Group, d.Key)
				continue
			}
			if s.Calls != m.Calls || s.Count != len(d.Values) || s.Never != d.Never {
				t.Errorf("%s %s: the view counts %d calls, %d values, %d never; the record %d, %d, %d", m.Group, d.Key, s.Calls, s.Count, s.Never, m.Calls, len(d.Values), d.Never)
			}
			if d.Median == nil {
				if s.Median != "" {
					t.Errorf("%s %s: the view has median %q; the record none", m.Group, d.Key, s.Median)
				}
				continue
			}
			med, err := strconv.ParseFloat(s.Median, 64)
			if err != nil || med != *d.Median {
				t.Errorf("%s %s: the view's median is %q; the record's %v", m.Group, d.Key, s.Median, *d.Median)
			}
			if want := "median " + result.MSText(*d.Median); s.Label != want {
				t.Errorf("%s %s: the median is labelled %q, want %q", m.Group, d.Key, s.Label, want)
			}
		}
	}
	if len(got) != n {
		t.Errorf("the view draws %d strips; the record has %d", len(got), n)
	}
}

// labelsOutsideJS lists the texts of the page's figures that reach past
// their figure's edges.
const labelsOutsideJS = `[...document.querySelectorAll('main svg')].flatMap((svg) => {
  const f = svg.getBoundingClientRect();
  return [...svg.querySelectorAll('text')].filter((t) => {
    const b = t.getBoundingClientRect();
    return b.width > 0 && (b.left < f.left - 0.5 || b.right > f.right + 0.5 || b.top < f.top - 0.5 || b.bottom > f.bottom + 0.5);
  }).map((t) => JSON.stringify(t.textContent) + ' in ' + (svg.getAttribute('class') || 'svg'));
})`

// shoot writes a screenshot of the page to -class-shots, if given.
func shoot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if *classShots == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*classShots, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestClassReportInChromium opens a saved report in headless Chromium:
// it draws the experiment it holds without asking for anything (its
// policy lets only its own script and style run), every distribution as
// the record's stats have it, a row for each call, newest first, and no
// teacher's control, download or live status.
func TestClassReportInChromium(t *testing.T) {
	v := classView(t, 40)
	path := filepath.Join(t.TempDir(), "class.html")
	if err := os.WriteFile(path, []byte(writeReport(t, v)), 0o644); err != nil {
		t.Fatal(err)
	}
	b := browsertest.New(t)
	ctx := b.Ctx
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1920, 1080), chromedp.Navigate("file://"+path),
		chromedp.Poll[chromedp.Void](`window.duplexdemoClass && duplexdemoClass.frames > 0`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("%v (the browser reported %q)", err, b.Problems())
	}
	checkStrips(t, ctx, v.Stats)
	ids, err := chromedp.Run(ctx, chromedp.Evaluate[map[string][]int](`Object.fromEntries([...document.querySelectorAll('ol.rows')].map((l) => [l.dataset.mode, [...l.children].map((r) => +r.dataset.callId)]))`))
	if err != nil {
		t.Fatal(err)
	}
	for mode, rows := range ids {
		if len(rows) == 0 {
			delete(ids, mode) // a mode of the class no call of this record played
		}
	}
	want := map[string][]int{}
	for i := len(v.Calls) - 1; i >= 0; i-- {
		want[v.Calls[i].Mode] = append(want[v.Calls[i].Mode], v.Calls[i].ID)
	}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("rows %v, want every call newest first by mode %v", ids, want)
	}
	absent, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`['#new-experiment', '#confirm', '#downloads', 'a[href^="/class/"]'].filter((s) => document.querySelector(s))`))
	if err != nil {
		t.Fatal(err)
	}
	if len(absent) > 0 {
		t.Errorf("a saved report shows %v; want no teacher's control and no download", absent)
	}
	saved, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#saved').hidden ? '' : document.querySelector('#saved').textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(saved, "saved report of experiment 1") {
		t.Errorf("the saved report says %q; want it to say it is a saved report of experiment 1", saved)
	}
	// Hatching tells the modes apart without colour: every pattern a bar
	// fills with must draw.
	hidden, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('pattern')].filter((p) =>
		[...p.children].some((c) => getComputedStyle(c).visibility !== 'visible' || getComputedStyle(c).display === 'none')).map((p) => p.id)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(hidden) > 0 {
		t.Errorf("patterns that draw nothing: %v", hidden)
	}
	outside, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](labelsOutsideJS))
	if err != nil {
		t.Fatal(err)
	}
	if len(outside) > 0 {
		t.Errorf("labels past their figure's edge: %s", strings.Join(outside, ", "))
	}
	for _, r := range b.Requests() {
		if r != "file://"+path && !strings.HasPrefix(r, "data:") {
			t.Errorf("the report asked for %s", r)
		}
	}
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("the browser reported: %q", p)
	}
	shoot(t, ctx, "class-report.png")
}

// percentile returns the p-th percentile of sorted values, nearest rank.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
