package webpage_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/duplexdemo/duplexdemo/internal/browsertest"
)

// A4 landscape with the 10 mm margins class.css asks for, in CSS pixels
// (96 to the inch): 277 by 190 mm.
const (
	a4Width  = 1047
	a4Height = 718
	// paperColumn is the width of each of the two columns of figures on
	// the paper, 8 mm apart.
	paperColumn = (a4Width - 30) / 2
	// minPrintPT is the least size of printed text, in points.
	minPrintPT = 7.0
	// firstPageFull is how much of the first page, at least, is taken by
	// what is printed on it.
	firstPageFull = 0.6
)

// smallTextJS lists the page's visible text printed under minPrintPT: in
// the figures, its size times the figure's scale; elsewhere, its size.
const smallTextJS = `((min) => {
  const out = [];
  const pt = (px) => px * 72 / 96;
  for (const t of document.querySelectorAll('main svg text')) {
    if (!t.textContent.trim() || !t.getClientRects().length) continue;
    const size = pt(parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a);
    if (size < min - 0.01) out.push(JSON.stringify(t.textContent) + ' ' + size.toFixed(2) + ' pt');
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const e = n.parentElement;
    if (!n.textContent.trim() || !e || e.closest('svg') || !e.getClientRects().length || getComputedStyle(e).visibility === 'hidden') continue;
    if (e.closest('.sr-only')) continue;
    const size = pt(parseFloat(getComputedStyle(e).fontSize));
    if (size < min - 0.01) out.push(JSON.stringify(n.textContent.trim().slice(0, 40)) + ' ' + size.toFixed(2) + ' pt');
  }
  return out;
})(%v)`

// firstPageJS returns how far down the first page (of height h) what
// fits on it reaches, and the bottom of the first figure.
const firstPageJS = `((h) => {
  const blocks = [...document.querySelectorAll('header.top, h2, p.legend, figure, .row-axis, li.row, h3, footer')];
  const bottoms = blocks.map((b) => b.getBoundingClientRect().bottom + window.scrollY).filter((b) => b <= h);
  const fig = document.querySelector('figure');
  return [Math.max(0, ...bottoms), fig ? fig.getBoundingClientRect().bottom + window.scrollY : -1];
})(%v)`

// TestClassReportPrints prints the saved report as a handout, A4
// landscape, and measures what the paper gets: every figure drawn again
// for the paper's width, every label inside its figure, no text under
// 7 pt, nothing live printed, and a first page that is mostly full (the
// header and the distributions, not a header alone).
func TestClassReportPrints(t *testing.T) {
	v := classView(t, 30)
	path := filepath.Join(t.TempDir(), "class.html")
	if err := os.WriteFile(path, []byte(writeReport(t, v)), 0o644); err != nil {
		t.Fatal(err)
	}
	b := browsertest.New(t)
	ctx := b.Ctx
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1920, 1080), chromedp.Navigate("file://"+path)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the report", `window.duplexdemoClass && duplexdemoClass.frames > 0`, 10*time.Second)
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(a4Width, a4Height)); err != nil {
		t.Fatal(err)
	}
	// Drawn again for the paper: every figure as wide as a column of it,
	// and none wider than its box (not shrunk to fit).
	waitFor(t, ctx, "the figures drawn for the paper", fmt.Sprintf(`matchMedia('print').matches && [...document.querySelectorAll('main svg')].every((s) => +s.getAttribute('width') === %d && Math.abs(s.getBoundingClientRect().width - %d) < 0.5)`, paperColumn, paperColumn), 10*time.Second)

	if outside := eval[[]string](t, ctx, labelsOutsideJS); len(outside) > 0 {
		t.Errorf("printed, labels past their figure's edge: %s", strings.Join(outside, ", "))
	}
	if small := eval[[]string](t, ctx, fmt.Sprintf(smallTextJS, minPrintPT)); len(small) > 0 {
		t.Errorf("printed text under %v pt: %s", minPrintPT, strings.Join(small, ", "))
	}
	if live := eval[[]string](t, ctx, `['#teacher', '#downloads', '#connection'].filter((s) => { const e = document.querySelector(s); return e && e.getClientRects().length > 0; })`); len(live) > 0 {
		t.Errorf("printed, the live parts %v", live)
	}
	if w := eval[float64](t, ctx, `document.documentElement.scrollWidth`); w > a4Width {
		t.Errorf("printed, the page is %v px wide; the paper %d", w, a4Width)
	}
	page := eval[[]float64](t, ctx, fmt.Sprintf(firstPageJS, a4Height))
	if page[1] < 0 || page[1] > a4Height {
		t.Errorf("the first figure ends %v px down; want it on the first page (%d px)", page[1], a4Height)
	}
	if page[0] < firstPageFull*a4Height {
		t.Errorf("the first page is filled to %v px of %d; want at least %.0f%%", page[0], a4Height, 100*firstPageFull)
	}
	pdf, err := chromedp.Run(ctx, chromedp.PrintToPDF(chromedp.PDFPreferCSSPageSize()))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(pdf), "%PDF") {
		t.Errorf("printing gave no PDF")
	}
	if *classShots != "" {
		if err := os.WriteFile(filepath.Join(*classShots, "class-report.pdf"), pdf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shoot(t, ctx, "class-print.png")
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("the browser reported: %q", p)
	}
}
