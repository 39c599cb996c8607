package webpage_test

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// callTimeout bounds one call from the page, from the press of its button
// to its end. A call's script lasts about three seconds on the link of the
// tests (no latency, or 40 ms); a slowed-down page on a busy machine takes a
// few times that, and a minute covers it many times over.
const callTimeout = time.Minute

// playOnce presses mode's button and waits for the call to end, however it
// ends, and returns what the page's status line says then.
func playOnce(ctx context.Context, mode string) (string, error) {
	return playWith(ctx, mode, chromedp.Click(chromedp.CSS("#play-"+mode)))
}

// playWith starts a call with press (a click, a key) and waits for it to
// end, however it ends, and returns what the status line says then. While
// a call runs the status line starts "Calling".
func playWith(ctx context.Context, mode string, press chromedp.Action[chromedp.Void]) (string, error) {
	wait, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if err := chromedp.Do(wait, press,
		chromedp.Poll[chromedp.Void](`document.querySelector('#status').textContent.startsWith('Calling')`, chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(0)),
	); err != nil {
		return "", fmt.Errorf("%s: starting the call: %w", mode, err)
	}
	status, err := chromedp.Run(wait, chromedp.Poll[string](`(() => { const s = document.querySelector('#status').textContent; return s.startsWith('Calling') ? null : s; })()`, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(0)))
	if err != nil {
		return "", fmt.Errorf("%s: waiting for the call to end: %w", mode, err)
	}
	return status, nil
}

// mustPlay plays a call and fails the test unless it ends with the page's
// numbers.
func mustPlay(t *testing.T, ctx context.Context, mode string) {
	t.Helper()
	status, err := playOnce(ctx, mode)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(status, "failed") {
		t.Fatalf("%s: the page says %q", mode, status)
	}
}

// overlapsJS is a function of an SVG element that lists, in words, each
// two of its text elements whose boxes on the screen overlap, and each wait
// label that covers another wait's bar. Boxes that merely touch (by less
// than a pixel) do not count.
const overlapsJS = `(svg) => {
  const box = (e) => e.getBoundingClientRect();
  const hit = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1 && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
  const name = (e) => JSON.stringify(e.textContent);
  const texts = [...svg.querySelectorAll('text')].filter((t) => t.textContent.trim() !== '');
  const out = [];
  for (let i = 0; i < texts.length; i++) {
    for (let j = i + 1; j < texts.length; j++) {
      if (hit(box(texts[i]), box(texts[j]))) out.push(name(texts[i]) + ' overlaps ' + name(texts[j]));
    }
  }
  const waits = [...svg.querySelectorAll('g.wait')];
  for (const w of waits) {
    const label = w.querySelector('text');
    if (!label) continue;
    for (const o of waits) {
      if (o === w) continue;
      const bar = o.querySelector('rect');
      if (hit(box(label), box(bar))) out.push(name(label) + ' covers the bar of ' + JSON.stringify(o.dataset.label + ' ' + o.dataset.reason));
    }
  }
  return out;
}`

// luminance is a colour's relative luminance as WCAG 2 defines it, from a
// computed CSS colour ("rgb(r, g, b)" or "rgba(r, g, b, a)").
func luminance(t *testing.T, css string) float64 {
	t.Helper()
	s := strings.TrimSpace(css)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open || !strings.HasPrefix(s, "rgb") {
		t.Fatalf("colour %q: want rgb(r, g, b)", css)
	}
	parts := strings.FieldsFunc(s[open+1:end], func(r rune) bool { return r == ',' || r == ' ' || r == '/' })
	if len(parts) < 3 {
		t.Fatalf("colour %q: want rgb(r, g, b)", css)
	}
	if len(parts) == 4 {
		if a, err := strconv.ParseFloat(parts[3], 64); err != nil || a != 1 {
			t.Fatalf("colour %q is not opaque", css)
		}
	}
	var c [3]float64
	for i := range 3 {
		v, err := strconv.ParseFloat(parts[i], 64)
		if err != nil {
			t.Fatalf("colour %q: %v", css, err)
		}
		v /= 255
		if v <= 0.04045 {
			c[i] = v / 12.92
		} else {
			c[i] = math.Pow((v+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*c[0] + 0.7152*c[1] + 0.0722*c[2]
}

// contrast is the WCAG 2 contrast ratio of two computed CSS colours.
func contrast(t *testing.T, a, b string) float64 {
	t.Helper()
	la, lb := luminance(t, a), luminance(t, b)
	return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
}

func TestContrastOfKnownColours(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want float64
	}{
		{"rgb(0, 0, 0)", "rgb(255, 255, 255)", 21},
		{"rgb(255, 255, 255)", "rgba(255, 255, 255, 1)", 1},
		{"rgb(143, 198, 234)", "rgb(240, 240, 240)", 1.61}, // the old listening bar on the lane, as issue 15 measured it
		{"rgb(255, 191, 71)", "rgb(255, 255, 255)", 1.64},  // the old focus ring on the page
	} {
		if got := contrast(t, c.a, c.b); math.Abs(got-c.want) > 0.01 {
			t.Errorf("contrast(%s, %s) = %.3f, want %.2f", c.a, c.b, got, c.want)
		}
	}
}
