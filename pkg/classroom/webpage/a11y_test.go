package webpage_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/duplexdemo/duplexdemo/internal/browsertest"
	"github.com/duplexdemo/duplexdemo/internal/classroomtest"
	"github.com/duplexdemo/duplexdemo/pkg/classroom"
)

// minContrast is WCAG 2's least contrast for the parts of a graphic one
// must see and for a focus indicator (1.4.11), and minFigureText the least
// size of the figure's text, in CSS pixels, on any screen.
const (
	minContrast   = 3.0
	minFigureText = 12.0
)

// TestPageAccessibility plays both calls with the keyboard alone and
// checks what a student using a keyboard, a screen reader, low vision or a
// phone gets: the focus stays on the button pressed (never falls to the
// page's body), a second press during a call does nothing, the result is
// announced in the status line (a live region), every table has a
// caption, each figure's accessible name says what its call measured, the
// bars and the focus ring stand out 3:1 from what is behind them, no two
// labels of a figure overlap, and on a phone 390 pixels wide every text
// of the figure is at least 12 pixels and only the figure scrolls sideways.
func TestPageAccessibility(t *testing.T) {
	base := classroomtest.Serve(t, classroom.Config{Latency: 40 * time.Millisecond})
	b := browsertest.New(t)
	ctx := b.Ctx
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+"/"),
		chromedp.WaitEnabled(chromedp.CSS("#play-walkie"))); err != nil {
		t.Fatal(err)
	}
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	focused := func() string {
		t.Helper()
		return eval(`(() => { const e = document.activeElement; return e === document.body ? 'body' : e ? e.tagName.toLowerCase() + '#' + e.id : 'none'; })()`)
	}

	if got := eval(`(() => { const s = document.querySelector('#status'); return s.getAttribute('role') + ' ' + s.getAttribute('aria-live'); })()`); got != "status polite" {
		t.Errorf("the status line is %q; want role=status aria-live=polite, so that results are announced", got)
	}

	for i, mode := range []string{"walkie", "phone"} {
		// Tab to the button: the walkie's is the page's first stop, the
		// phone's the next.
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			// The ring a keyboard's focus draws, against the page and the button.
			ring := eval(`(() => { const b = document.activeElement, s = getComputedStyle(b); return [s.outlineStyle, s.outlineWidth, s.outlineColor, getComputedStyle(document.body).backgroundColor, s.backgroundColor].join('|'); })()`)
			parts := strings.Split(ring, "|")
			if len(parts) != 5 || parts[0] == "none" || parts[1] == "0px" {
				t.Errorf("the focused button draws no focus ring: %q", ring)
			} else {
				for _, behind := range parts[3:] {
					if c := contrast(t, parts[2], behind); c < minContrast {
						t.Errorf("the focus ring %s against %s: %.2f:1, want at least %.0f:1", parts[2], behind, c, minContrast)
					}
				}
			}
		}
		if got := focused(); got != "button#play-"+mode {
			t.Fatalf("after Tab the focus is on %s; want the %s button", got, mode)
		}
		// Watch where the focus is while the call runs.
		eval(`(() => { window.focusSeen = new Set(); window.focusWatch = setInterval(() => { const e = document.activeElement; window.focusSeen.add(e === document.body ? 'body' : e ? e.tagName.toLowerCase() + '#' + e.id : 'none'); }, 20); return ''; })()`)
		status, err := playWith(ctx, mode, chromedp.Steps(chromedp.KeyEvent(kb.Enter),
			chromedp.Poll[chromedp.Void](`document.querySelector('#status').textContent.startsWith('Calling')`, chromedp.WithPollingInterval(20*time.Millisecond)),
			chromedp.KeyEvent(kb.Enter))) // a second press, during the call
		if err != nil {
			t.Fatal(err)
		}
		seen := eval(`(() => { clearInterval(window.focusWatch); return [...window.focusSeen].join(' '); })()`)
		if seen != "button#play-"+mode {
			t.Errorf("%s: during the call the focus was on %q; want it kept on the button pressed", mode, seen)
		}
		if got := focused(); got != "button#play-"+mode {
			t.Errorf("%s: after the call the focus is on %s; want the button pressed", mode, got)
		}
		if strings.Contains(status, "failed") || !strings.Contains(status, "interruption") || !strings.Contains(status, "afterthought") {
			t.Errorf("%s: the status line announces %q; want what the call measured", mode, status)
		}
		// The second press did nothing: no other call follows.
		if err := chromedp.Do(ctx, chromedp.Sleep(300*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if s := eval(`document.querySelector('#status').textContent`); s != status {
			t.Errorf("%s: a press during the call started another: the status line went from %q to %q", mode, status, s)
		}

		// The figure's name says what the call measured, as its table does.
		label := eval(`document.querySelector('#run-` + mode + ` svg').getAttribute('role') + ' | ' + document.querySelector('#run-` + mode + ` svg').getAttribute('aria-label')`)
		cells, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...[...document.querySelectorAll('#run-`+mode+` table[data-mode] tbody tr')].find((r) => r.querySelector('th').textContent === 'waited').querySelectorAll('td')].map((c) => c.textContent)`))
		if err != nil || len(cells) != 2 {
			t.Fatalf("%s: the table's waited row is %q (%v)", mode, cells, err)
		}
		if !strings.HasPrefix(label, "img | ") || !strings.Contains(label, "interruption") || !strings.Contains(label, "afterthought") ||
			!strings.Contains(label, "waited "+cells[0]) || !strings.Contains(label, "waited "+cells[1]) {
			t.Errorf("%s: the figure is %q; want an image named for what the call measured (the waits %q)", mode, label, cells)
		}
	}

	// Every table says what it holds.
	captions, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('table')].map((t) => t.caption ? t.caption.textContent.trim() : '')`))
	if err != nil {
		t.Fatal(err)
	}
	if len(captions) < 5 {
		t.Errorf("%d tables after both calls; want 5 (two a call, and the comparison)", len(captions))
	}
	for i, c := range captions {
		if c == "" {
			t.Errorf("table %d has no caption", i+1)
		}
	}

	// The bars against the lane, from the styles the browser computed.
	for _, mode := range []string{"walkie", "phone"} {
		colours, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`(() => {
		  const svg = document.querySelector('#run-`+mode+` svg');
		  const style = (sel, prop) => { const e = svg.querySelector(sel); return e ? getComputedStyle(e)[prop] : ''; };
		  return { lane: style('.lane-bg', 'fill'), talk: style('rect.talk', 'fill'), listen: style('rect.listen', 'fill'), wait: style('g.wait rect', 'stroke') };
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		for _, bar := range []string{"talk", "listen", "wait"} {
			if colours[bar] == "" {
				if bar != "wait" {
					t.Errorf("%s: no %s bar drawn", mode, bar)
				}
				continue
			}
			if c := contrast(t, colours[bar], colours["lane"]); c < minContrast {
				t.Errorf("%s: the %s bar %s against the lane %s: %.2f:1, want at least %.0f:1", mode, bar, colours[bar], colours["lane"], c, minContrast)
			}
		}
	}

	checkFigures := func(screen string) {
		t.Helper()
		for _, mode := range []string{"walkie", "phone"} {
			overlaps, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(`+overlapsJS+`)(document.querySelector('#run-`+mode+` svg'))`))
			if err != nil {
				t.Fatal(err)
			}
			if len(overlaps) > 0 {
				t.Errorf("%s, %s: overlapping labels:\n%s", screen, mode, strings.Join(overlaps, "\n"))
			}
			small, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#run-`+mode+` svg text')].map((e) => [e.textContent, parseFloat(getComputedStyle(e).fontSize) * e.getScreenCTM().a]).filter(([, px]) => px < `+ftoa(minFigureText)+` - 0.01).map(([s, px]) => JSON.stringify(s) + ' ' + px.toFixed(2) + ' px')`))
			if err != nil {
				t.Fatal(err)
			}
			if len(small) > 0 {
				t.Errorf("%s, %s: figure text under %.0f px: %s", screen, mode, minFigureText, strings.Join(small, ", "))
			}
		}
	}
	checkFigures("1280 px")

	// A phone: the figures are drawn again for its width.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateScale(3)),
		chromedp.Poll[chromedp.Void](`document.documentElement.clientWidth === 390 && [...document.querySelectorAll('.figure svg')].every((s) => +s.getAttribute('width') < 1000)`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("the figures were not drawn again for a 390 px screen: %v", err)
	}
	checkFigures("390 px")
	if w := eval(`String(document.documentElement.scrollWidth)`); w != "390" {
		t.Errorf("on a 390 px screen the page is %s px wide; want only the figures to scroll sideways", w)
	}
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("the browser reported: %q", p)
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
