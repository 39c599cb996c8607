package webpage_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/internal/classroomtest"

	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"

	"github.com/duplexdemo/duplexdemo/internal/browsertest"
	"github.com/duplexdemo/duplexdemo/pkg/classroom"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

var docs = flag.String("docs", "", "write a screenshot of the page after both calls to this directory (../../../docs)")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestPageInChromium opens the page in headless Chromium, plays the walkie
// and the phone call, and checks what the student sees: one lane per side
// for each call, the phone's interruption heard sooner than the walkie's,
// the connections grandma saw, the grandchild's lines as the schedule has
// them, no console error or failed request, and nothing loaded from another
// origin.
func TestPageInChromium(t *testing.T) {
	base := classroomtest.Serve(t, classroom.Config{Latency: 40 * time.Millisecond})
	b := browsertest.New(t)
	if err := chromedp.Do(b.Ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+"/"),
		chromedp.WaitEnabled(chromedp.CSS("#play-walkie"))); err != nil {
		t.Fatal(err)
	}
	heardAfter := map[string]float64{}
	for _, mode := range []string{"walkie", "phone"} {
		wait, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
		err := chromedp.Do(wait, chromedp.Click(chromedp.CSS("#play-"+mode)),
			chromedp.WaitVisible(chromedp.CSS(`table[data-mode="`+mode+`"]`)))
		cancel()
		if err != nil {
			status, _ := chromedp.Run(b.Ctx, chromedp.Text(chromedp.CSS("#status")))
			t.Fatalf("%s: %v (the page says %q; the browser reported %q)", mode, err, status, b.Problems())
		}
		lanes, err := chromedp.Run(b.Ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('svg[data-mode="`+mode+`"] g.lane')].map(g => g.dataset.side)`))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(lanes, ",") != "client,server" {
			t.Errorf("%s: lanes %v, want one for the client and one for the server", mode, lanes)
		}
		arrows, err := chromedp.Run(b.Ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('svg[data-mode="`+mode+`"] g.msg')].map(g => g.className.baseVal)`))
		if err != nil {
			t.Fatal(err)
		}
		if !containsBoth(arrows) {
			t.Errorf("%s: arrows %v; want lines both ways", mode, arrows)
		}
		attrs, err := chromedp.Run(b.Ctx, chromedp.Attributes(chromedp.CSS(`table[data-mode="`+mode+`"]`)))
		if err != nil {
			t.Fatal(err)
		}
		after, err := strconv.ParseFloat(attrs["data-interruption-heard-after-ms"], 64)
		if err != nil {
			t.Fatalf("%s: the interruption's heard-after is %q", mode, attrs["data-interruption-heard-after-ms"])
		}
		heardAfter[mode] = after
		conns, _ := strconv.Atoi(attrs["data-connections"])
		if conns < 1 || (mode == "phone" && conns != 1) {
			t.Errorf("%s: grandma saw %d connections", mode, conns)
		}
		said, err := chromedp.Run(b.Ctx, chromedp.Evaluate[[]string](`duplexdemoRuns.`+mode+`.lines.filter(m => m.from === 'client').map(m => [m.label, m.reason, m.sent && m.heard].join('|'))`))
		if err != nil {
			t.Fatal(err)
		}
		if want := schedule(); !slices.Equal(said, want) {
			t.Errorf("%s: the page said %q; want the schedule %q, each line sent and heard", mode, said, want)
		}
		note, err := chromedp.Run(b.Ctx, chromedp.Text(chromedp.CSS("#run-"+mode+" .note")))
		if err != nil {
			t.Fatal(err)
		}
		if mode == "walkie" && conns > 1 && !strings.Contains(note, "used "+strconv.Itoa(conns)+" connections") {
			t.Errorf("walkie: %d connections, but the page says %q", conns, note)
		}
	}
	if heardAfter["phone"] >= heardAfter["walkie"] {
		t.Errorf("the phone's interruption was heard %v ms after it was wanted, the walkie's %v ms; want the phone's sooner", heardAfter["phone"], heardAfter["walkie"])
	}
	if err := chromedp.Do(b.Ctx, chromedp.WaitVisible(chromedp.CSS("#compare table"))); err != nil {
		t.Fatal(err)
	}
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("the browser reported: %q", p)
	}
	for _, r := range b.Requests() {
		if !strings.HasPrefix(r, base+"/") && !strings.HasPrefix(r, strings.Replace(base, "http://", "ws://", 1)+"/") {
			t.Errorf("the page asked for %s, from another origin", r)
		}
	}
	if *docs != "" {
		png, err := chromedp.Run(b.Ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(*docs, "browser.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// schedule is what the page should say, as its tests read it: each cue's
// label, the reason it may wait (connecting for the first, the channel for
// the others), and that it was sent and heard.
func schedule() []string {
	var want []string
	for i, c := range story.Default().Cues() {
		reason := timeline.ReasonChannelBusy
		if i == 0 {
			reason = timeline.ReasonConnecting
		}
		want = append(want, c.Label+"|"+reason+"|true")
	}
	return want
}

func containsBoth(classes []string) bool {
	var c, s bool
	for _, cl := range classes {
		c = c || strings.Contains(cl, "from-client")
		s = s || strings.Contains(cl, "from-server")
	}
	return c && s
}
