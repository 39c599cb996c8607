package htmlreport_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/duplexdemo/duplexdemo/internal/browsertest"
	"github.com/duplexdemo/duplexdemo/internal/pipenet"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/modes"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/view/htmlreport"
)

// The sheet a handout is printed on, and the smallest text it may carry.
const (
	paperSize = "A4 landscape"
	// paperWidth and paperHeight are A4's, landscape.
	paperWidth, paperHeight = "297mm", "210mm"
	minPrintedPt            = 7.0
)

// TestPrinted opens the report of `compare --all` in headless Chromium,
// printed on A4 landscape and on a 1366×768 screen, and checks it reads:
// every label of the figure lies inside its picture; printed, no text is
// under 7 pt, the figure is as wide as the page and begins, key and first
// call, on the first page, and no call is taller than a page. Then it
// draws calls whose last lines end ever closer to the figure's right edge,
// where a label written after them would run off it, and checks, with the
// fonts the browser has, that every label still lies inside its picture.
func TestPrinted(t *testing.T) {
	calls := allCalls(t)
	b := browsertest.New(t)
	dir := t.TempDir()
	open(t, b, filepath.Join(dir, "compare-all.html"), calls)

	// The page's own @page rule says what it prints on; its content box
	// is the paper less the rule's margins, in CSS px.
	sheet, err := chromedp.Run(b.Ctx, chromedp.Evaluate[printSheet](strings.NewReplacer("PAPER_W", paperWidth, "PAPER_H", paperHeight).Replace(sheetJS)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.EqualFold(sheet.Size, paperSize) {
		t.Errorf("the page prints on %q, want %q", sheet.Size, paperSize)
	}
	if sheet.Width < 900 || sheet.Height < 600 {
		t.Fatalf("the printed page's content box is %.0f×%.0f px, want A4 landscape less its margins", sheet.Width, sheet.Height)
	}

	// Printed, the page is laid out as wide as the paper's content box,
	// here in whole px.
	width, height := math.Floor(sheet.Width), math.Floor(sheet.Height)
	printed := chromedp.Steps(chromedp.EmulateViewport(int64(width), int64(height)), emulateMedia("print"))
	screen := chromedp.Steps(emulateMedia(""), chromedp.EmulateViewport(1366, 768))

	t.Run("printed", func(t *testing.T) {
		if err := chromedp.Do(b.Ctx, printed); err != nil {
			t.Fatal(err)
		}
		l := measure(t, b)
		checkInside(t, l)
		if l.ScrollWidth > width {
			t.Errorf("the page is %.0f px wide printed, its paper %.0f px: it would be shrunk to fit", l.ScrollWidth, width)
		}
		if l.Smallest.Pt < minPrintedPt {
			t.Errorf("%q prints at %.1f pt, want %v pt or more", l.Smallest.Text, l.Smallest.Pt, minPrintedPt)
		}
		if len(l.Panels) != len(calls) {
			t.Fatalf("%d calls drawn, want %d", len(l.Panels), len(calls))
		}
		if l.Axes != len(calls) {
			t.Errorf("%d time axes printed, want one under each of the %d calls", l.Axes, len(calls))
		}
		for _, p := range l.Panels {
			if p.Width < width-0.5 {
				t.Errorf("%s is drawn %.0f px wide printed, want the page's %.0f", p.Mode, p.Width, width)
			}
			if h := p.Bottom - p.Top; h > height {
				t.Errorf("%s is %.0f px tall printed, taller than the page's %.0f: it would be cut", p.Mode, h, height)
			}
		}
		// A call is never broken across pages, so the first one prints on
		// the first page only if all of it fits there; the key is above it.
		if first := l.Panels[0]; first.Bottom > height {
			t.Errorf("the first call ends %.0f px down the printed page, past the first page's %.0f: page 1 would hold the title alone", first.Bottom, height)
		}
		if l.LegendBottom > l.Panels[0].Top {
			t.Errorf("the key ends %.0f px down the printed page, below the first call's top at %.0f", l.LegendBottom, l.Panels[0].Top)
		}
	})

	t.Run("screen", func(t *testing.T) {
		if err := chromedp.Do(b.Ctx, screen); err != nil {
			t.Fatal(err)
		}
		l := measure(t, b)
		checkInside(t, l)
		if l.Axes != 1 {
			t.Errorf("%d time axes shown on screen, want 1, under the last call", l.Axes)
		}
	})

	t.Run("labels near the edge", func(t *testing.T) {
		var calls []*result.Result
		for end := 0.80; end <= 1.0; end += 0.005 {
			calls = append(calls, edgeCall(end))
		}
		open(t, b, filepath.Join(dir, "edge.html"), calls)
		for _, media := range []chromedp.Action[chromedp.Void]{screen, printed} {
			if err := chromedp.Do(b.Ctx, media); err != nil {
				t.Fatal(err)
			}
			checkInside(t, measure(t, b))
		}
	})
}

// open writes the report of calls to path and opens it in b.
func open(t *testing.T, b *browsertest.Browser, path string, calls []*result.Result) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := htmlreport.Write(f, calls...); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(b.Ctx, chromedp.Navigate("file://"+path), chromedp.WaitVisible(chromedp.CSS("svg.lanes"))); err != nil {
		t.Fatal(err)
	}
}

// edgeCall is a one-second call whose interruption and afterthought are
// heard at end (a fraction of the call), the afterthought after a short
// wait, which is too short to hold its label.
func edgeCall(end float64) *result.Result {
	const total = time.Second
	at := func(f float64) time.Duration { return time.Duration(f * float64(total)).Round(time.Millisecond) }
	var events []timeline.Event
	say := func(id timeline.MsgID, side timeline.Side, label string, want, sent, heard time.Duration) {
		text := label + " text"
		events = append(events, timeline.Event{At: want, Side: side, Kind: timeline.KindWant, Msg: id, Label: label, Text: text, Reason: timeline.ReasonChannelBusy})
		if sent-want >= timeline.Resolution {
			events = append(events, timeline.Event{At: want + timeline.Resolution, Side: side, Kind: timeline.KindWaiting, Msg: id, Label: label, Text: text, Reason: timeline.ReasonChannelBusy, Waited: timeline.Resolution})
		}
		events = append(events, timeline.Event{At: sent, Side: side, Kind: timeline.KindSend, Msg: id, Label: label, Text: text, Bytes: len(text), Waited: sent - want})
		events = append(events, timeline.Event{At: heard, Side: side.Peer(), Kind: timeline.KindHeard, Msg: id, Label: label, Text: text, Bytes: len(text)})
	}
	say(0, timeline.Client, story.LabelInterruption, at(end-0.1), at(end-0.1), at(end))
	say(1, timeline.Server, story.LabelAfterthought, at(end-0.05), at(end-0.03), at(end))
	slices.SortStableFunc(events, func(a, b timeline.Event) int { return int(a.At - b.At) })
	return &result.Result{
		Mode:        result.Mode{Key: fmt.Sprintf("ends at %.3f", end), Name: "a call", Transport: "a test"},
		Latency:     30 * time.Millisecond,
		Timeline:    timeline.Replay(events, total),
		Connections: 1,
	}
}

// allCalls plays every mode at once, as `compare --all` does, with the
// default script and link, inside a synctest bubble, where every time is
// exact: all but the mode on UDP datagrams, which cannot run there.
func allCalls(t *testing.T) []*result.Result {
	t.Helper()
	var calls []*result.Result
	synctest.Test(t, func(t *testing.T) {
		config := func(call.Mode) call.Config {
			l := pipenet.Listen()
			return call.Config{Script: story.Default(), Latency: 40 * time.Millisecond, Listener: l, Dial: l.DialContext}
		}
		var err error
		var streams []call.Mode // the fake clock cannot wait on UDP
		for _, m := range modes.All() {
			if !m.Datagrams {
				streams = append(streams, m)
			}
		}
		calls, err = modes.RunAll(context.Background(), config, streams)
		if err != nil {
			t.Fatal(err)
		}
	})
	return calls
}

func emulateMedia(media string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: media})
		return err
	})
}

// printSheet is the page's @page rule: its size, and the content box of
// the paper it names, less its margins, in CSS px.
type printSheet struct {
	Size          string
	Width, Height float64
}

// sheetJS finds the @page rule and measures its lengths by laying out a
// box of each.
const sheetJS = `(() => {
  const rules = [];
  const walk = list => { for (const r of list) { if (r instanceof CSSPageRule) rules.push(r); else if (r.cssRules) walk(r.cssRules); } };
  for (const s of document.styleSheets) walk(s.cssRules);
  if (rules.length !== 1) throw new Error(rules.length + ' @page rules, want 1');
  const st = rules[0].style;
  const px = len => {
    const d = document.createElement('div');
    d.style.cssText = 'position:absolute;visibility:hidden;height:0;width:' + (len || '0');
    document.body.append(d);
    const w = d.getBoundingClientRect().width;
    d.remove();
    return w;
  };
  return {
    Size: st.getPropertyValue('size'),
    Width: px('PAPER_W') - px(st.marginLeft) - px(st.marginRight),
    Height: px('PAPER_H') - px(st.marginTop) - px(st.marginBottom),
  };
})()`

// layout is what measureJS finds on the page as laid out.
type layout struct {
	// Outside are the texts of the figure that reach past their SVG.
	Outside []string
	// Texts is how many texts of the figure were looked at.
	Texts int
	// Smallest is the smallest text on the page, at its rendered size.
	Smallest struct {
		Text string
		Pt   float64
	}
	// Panels are the calls' pictures, top to bottom of the page.
	Panels []struct {
		Mode               string
		Top, Bottom, Width float64
	}
	LegendBottom float64
	// Axes is how many time axes are shown.
	Axes        int
	ScrollWidth float64
}

// measureJS measures the page as the browser laid it out: each text of
// each SVG against its SVG's box, the size every piece of text is drawn at
// (its font size scaled by the SVG it is in, at 0.75 pt a CSS px, as
// printed), and where each call's picture lies on the page.
const measureJS = `(() => {
  const shown = el => el.getClientRects().length > 0;
  const l = {Outside: [], Texts: 0, Smallest: {Text: '', Pt: 1e9}, Panels: [], LegendBottom: 0, Axes: 0,
    ScrollWidth: document.documentElement.scrollWidth};
  for (const svg of document.querySelectorAll('figure svg')) {
    if (!shown(svg)) continue;
    const s = svg.getBoundingClientRect();
    for (const t of svg.querySelectorAll('text')) {
      if (!shown(t)) continue;
      l.Texts++;
      const r = t.getBoundingClientRect();
      if (r.left < s.left - 0.5 || r.right > s.right + 0.5 || r.top < s.top - 0.5 || r.bottom > s.bottom + 0.5) {
        const mode = svg.dataset.mode || svg.parentNode.dataset.mode || 'the figure';
        l.Outside.push(mode + ': ' + JSON.stringify(t.textContent) + ' spans ' + [r.left, r.top, r.right, r.bottom].map(Math.round).join(',') +
          ', its picture ' + [s.left, s.top, s.right, s.bottom].map(Math.round).join(','));
      }
    }
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.data.trim() || el.closest('title, desc, style') || !shown(el)) continue;
    let scale = 1;
    if (el instanceof SVGElement) { const m = el.getScreenCTM(); scale = Math.hypot(m.a, m.b); }
    const pt = parseFloat(getComputedStyle(el).fontSize) * scale * 0.75;
    if (pt < l.Smallest.Pt) l.Smallest = {Text: n.data.trim(), Pt: pt};
  }
  for (const p of document.querySelectorAll('figure .panel')) {
    const r = p.getBoundingClientRect();
    l.Panels.push({Mode: p.dataset.mode, Top: r.top + scrollY, Bottom: r.bottom + scrollY, Width: r.width});
  }
  l.LegendBottom = document.querySelector('figure .legend').getBoundingClientRect().bottom + scrollY;
  l.Axes = [...document.querySelectorAll('svg.ticks')].filter(shown).length;
  return l;
})()`

func measure(t *testing.T, b *browsertest.Browser) layout {
	t.Helper()
	l, err := chromedp.Run(b.Ctx, chromedp.Evaluate[layout](measureJS))
	if err != nil {
		t.Fatal(err)
	}
	if l.Texts == 0 {
		t.Fatal("no text found in the figure")
	}
	return l
}

func checkInside(t *testing.T, l layout) {
	t.Helper()
	for _, o := range l.Outside {
		t.Errorf("a label runs off its picture: %s", o)
	}
}
