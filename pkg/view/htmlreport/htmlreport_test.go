package htmlreport_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/internal/exporttest"
	"github.com/duplexdemo/duplexdemo/internal/pipenet"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
	"github.com/duplexdemo/duplexdemo/pkg/link"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/view/htmlreport"
	"github.com/duplexdemo/duplexdemo/pkg/view/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestGolden(t *testing.T) {
	exporttest.Golden(t, *update, ".html", htmlreport.Write, nil)
}

// photoCalls plays the walkie and the phone with a 200KB photo, on a link
// of rate (0 unlimited) and 40 ms, on the fake clock.
func photoCalls(t *testing.T, rate link.Rate) []*result.Result {
	t.Helper()
	script := calltest.Script(t, story.Options{Photo: 200_000})
	var calls []*result.Result
	synctest.Test(t, func(t *testing.T) {
		for _, m := range []call.Mode{halfduplex.Mode(), fullduplex.Mode()} {
			l := pipenet.Listen()
			res, err := call.Run(context.Background(), m, call.Config{Script: script, Latency: 40 * time.Millisecond, Bandwidth: rate, Listener: l, Dial: l.DialContext})
			if err != nil {
				t.Fatal(err)
			}
			calls = append(calls, res)
		}
	})
	return calls
}

var (
	linkGroup = regexp.MustCompile(`(?s)<g class="link" data-mode="([^"]*)" data-from="([^"]*)">(.*?)\n</g>`)
	busyRect  = regexp.MustCompile(`<rect class="busy from-([a-z]+)" x="([0-9.]+)" y="[0-9.]+" width="([0-9.]+)" height="18" data-start-ms="([0-9.]+)" data-end-ms="([0-9.]+)">`)
)

// TestLinkLanes: on a link with a bandwidth, each call has a lane for
// each direction of the link under its sides, with a box for each time
// the link was busy that way, at its true time on the figure's axis; the
// key explains them, and each call's numbers give the link's rate, its
// busy time each way and how long the interruption waited behind the
// photo. Without a bandwidth, none of it, and the photo's row says that
// nothing queued.
func TestLinkLanes(t *testing.T) {
	calls := photoCalls(t, link.Mbit)
	var b bytes.Buffer
	if err := htmlreport.Write(&b, calls...); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	var total time.Duration
	for _, c := range calls {
		total = max(total, c.Timeline.Duration)
	}
	// The figure's geometry: the plot runs from 190 to 1160 units.
	x := func(ms float64) float64 { return 190 + ms/result.MS(total)*970 }
	groups := linkGroup.FindAllStringSubmatch(page, -1)
	if len(groups) != 2*len(calls) {
		t.Fatalf("%d link lanes, want two for each of %d calls", len(groups), len(calls))
	}
	for i, c := range calls {
		r := report.Build(c)
		for j, from := range []string{"client", "server"} {
			g := groups[2*i+j]
			if g[1] != c.Mode.Key || g[2] != from {
				t.Errorf("link lane %d is the %s's from %s, want the %s's from %s", 2*i+j, g[1], g[2], c.Mode.Key, from)
				continue
			}
			name := map[string]string{"client": "link up", "server": "link down"}[from]
			if !strings.Contains(g[3], ">"+name+"</text>") {
				t.Errorf("%s: the lane from the %s is not named %q", c.Mode.Key, from, name)
			}
			var want []report.LinkSpan
			for _, s := range r.LinkBusy {
				if s.From == from {
					want = append(want, s)
				}
			}
			got := busyRect.FindAllStringSubmatch(g[3], -1)
			if len(want) == 0 || len(got) != len(want) {
				t.Fatalf("%s: %d busy boxes on %s, want one per busy span from the %s: %d", c.Mode.Key, len(got), name, from, len(want))
			}
			for k, s := range want {
				f := func(i int) float64 { v, _ := strconv.ParseFloat(got[k][i], 64); return v }
				if got[k][1] != from || math.Abs(f(4)-s.StartMS) > 0.001 || math.Abs(f(5)-s.EndMS) > 0.001 {
					t.Errorf("%s: busy box %d on %s from %s ms to %s ms (from-%s), want from %.3f to %.3f", c.Mode.Key, k, name, got[k][4], got[k][5], got[k][1], s.StartMS, s.EndMS)
				}
				// At its true time: a box too short to see is widened
				// about its middle.
				mid, w := f(2)+f(3)/2, x(s.EndMS)-x(s.StartMS)
				if math.Abs(mid-(x(s.StartMS)+x(s.EndMS))/2) > 0.1 || math.Abs(f(3)-max(w, 3)) > 0.1 {
					t.Errorf("%s: busy box %d on %s drawn at x %s, %s wide; want %.1f, %.1f wide", c.Mode.Key, k, name, got[k][2], got[k][3], x(s.StartMS), w)
				}
			}
		}
		busy, photo := r.Summary.LinkBusyMS, r.Summary.Photo
		if busy == nil || photo == nil || photo.InterruptionBehindPhotoMS == nil {
			t.Fatalf("%s: the report has no link busy time or photo wait: %+v, %+v", c.Mode.Key, busy, photo)
		}
		section := page[strings.Index(page, fmt.Sprintf(`<section class="summary" data-mode=%q>`, c.Mode.Key)):]
		section = section[:strings.Index(section, "</section>")]
		for _, row := range []string{
			`<tr data-link="rate"><th scope="row">link, each way</th><td>1Mbit</td></tr>`,
			fmt.Sprintf(`<tr data-link="client"><th scope="row">link busy, grandchild to grandma</th><td>%s</td></tr>`, result.MSText(busy.ClientToServer)),
			fmt.Sprintf(`<tr data-link="server"><th scope="row">link busy, grandma to grandchild</th><td>%s</td></tr>`, result.MSText(busy.ServerToClient)),
			fmt.Sprintf(`<tr data-photo="200000"><th scope="row">photo</th><td>200KB, the interruption waited <strong>%s</strong> while the link carried it up</td></tr>`, result.MSText(*photo.InterruptionBehindPhotoMS)),
		} {
			if !strings.Contains(section, row) {
				t.Errorf("%s: the numbers lack %s", c.Mode.Key, row)
			}
		}
	}
	for _, want := range []string{`<pattern id="busy-client"`, `<pattern id="busy-server"`, `.busy.from-client {`, "link busy, up and down</li>", "Under each call, the link's two directions"} {
		if strings.Count(page, want) != 1 {
			t.Errorf("the page has %q %d times, want once", want, strings.Count(page, want))
		}
	}

	// Without a bandwidth: no lane, key or row of the link.
	plain := photoCalls(t, 0)
	b.Reset()
	if err := htmlreport.Write(&b, plain...); err != nil {
		t.Fatal(err)
	}
	page = b.String()
	for _, no := range []string{`class="link"`, "busy-client", ".busy", "data-link", "link busy", "Under each call"} {
		if strings.Contains(page, no) {
			t.Errorf("a page of calls without a bandwidth has %q", no)
		}
	}
	if n := strings.Count(page, `<tr data-photo="200000"><th scope="row">photo</th><td>200KB (a link without a --bandwidth queues nothing behind it)</td></tr>`); n != len(plain) {
		t.Errorf("%d photo rows saying nothing queued on a link without a bandwidth, want %d", n, len(plain))
	}
}
