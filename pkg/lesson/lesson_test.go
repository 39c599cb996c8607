package lesson

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/duplexdemo/duplexdemo/internal/pipenet"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/h1full"
	"github.com/duplexdemo/duplexdemo/pkg/h2"
	"github.com/duplexdemo/duplexdemo/pkg/modes"
	"github.com/duplexdemo/duplexdemo/pkg/rawtcp"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/view/render"
	"github.com/duplexdemo/duplexdemo/pkg/view/report"
	"github.com/duplexdemo/duplexdemo/pkg/webtransport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func inMemory() (net.Listener, func(ctx context.Context, network, addr string) (net.Conn, error)) {
	l := pipenet.Listen()
	return l, l.DialContext
}

// TestNarrationTellsTheMeasuredNumbers plays the interruption chapters and
// checks that what the narration says is what the chapter's own call
// measured, as its JSON report has it.
func TestNarrationTellsTheMeasuredNumbers(t *testing.T) {
	for _, real := range []bool{false, true} {
		check := func(t *testing.T) {
			var out bytes.Buffer
			measured := map[int][]report.Call{}
			l := &Teacher{Out: &out, Style: render.Style{Width: 80}, Script: story.Default(), Latency: 40 * time.Millisecond,
				Measured: func(n int, r report.Call) { measured[n] = append(measured[n], r) }}
			if !real {
				l.Network = inMemory
			}
			chapters := Chapters()
			for _, n := range []int{2, 4} {
				out.Reset()
				if _, err := l.Play(context.Background(), chapters, n); err != nil {
					t.Fatal(err)
				}
				if len(measured[n]) != 1 {
					t.Fatalf("chapter %d measured %d calls, want 1", n, len(measured[n]))
				}
				i := measured[n][0].Summary.Interruption
				point := out.String()[strings.Index(out.String(), "What just happened"):]
				point = strings.Join(strings.Fields(point), " ") // undo the wrapping
				for _, want := range []string{
					fmt.Sprintf("interrupt at %.0f ms", math.Round(*i.WantedAtMS)),
					fmt.Sprintf("heard you at %.0f ms", math.Round(*i.HeardAtMS)),
					fmt.Sprintf("waited %.0f ms", math.Round(*i.WaitedMS)),
				} {
					if !strings.Contains(point, want) {
						t.Errorf("chapter %d says %q; want it to say %q, as measured", n, point, want)
					}
				}
			}
		}
		if real {
			t.Run("real sockets", check)
		} else {
			t.Run("fake clock", func(t *testing.T) { synctest.Test(t, check) })
		}
	}
}

func TestWrapFitsTheWidth(t *testing.T) {
	text := strings.Repeat("word ", 60) + "\n\n" + strings.Repeat("another ", 30)
	for _, line := range strings.Split(wrap(text, 60), "\n") {
		if len(line) > 60 {
			t.Errorf("line of %d columns: %q", len(line), line)
		}
	}
	if got := strings.Count(wrap(text, 60), "\n\n"); got != 1 {
		t.Errorf("paragraphs: %d blank lines, want 1", got)
	}
}

// chapter returns the number of the chapter titled title, from 1.
func chapter(t *testing.T, title string) int {
	t.Helper()
	for i, c := range Chapters() {
		if c.Title == title {
			return i + 1
		}
	}
	t.Fatalf("no chapter %q", title)
	return 0
}

// TestBeneathTellsTheMeasuredNumbers plays the chapter "Is HTTP half
// duplex?" on the fake clock over the in-memory network, and on real
// sockets. It plays the walkie-talkie and every mode beneath the web's,
// except, off real sockets, one that rides UDP datagrams, which its
// conclusion says it left out; and every number the conclusion gives is the
// one its table shows.
func TestBeneathTellsTheMeasuredNumbers(t *testing.T) {
	n := chapter(t, "Is HTTP half duplex?")
	for _, real := range []bool{false, true} {
		check := func(t *testing.T) {
			var out bytes.Buffer
			var measured []report.Call
			l := &Teacher{Out: &out, Style: render.Style{Width: 60, ASCII: true}, Script: story.Default(), Latency: 40 * time.Millisecond,
				Measured: func(_ int, r report.Call) { measured = append(measured, r) }}
			if !real {
				l.Network = inMemory
			}
			page, err := l.Play(context.Background(), Chapters(), n)
			if err != nil {
				t.Fatal(err)
			}
			var want, left []string
			for _, m := range append([]call.Mode{modes.Ends()[0]}, modes.Beneath()...) {
				if real || !m.Datagrams {
					want = append(want, m.Key)
				} else {
					left = append(left, m.Name)
				}
			}
			var got []string
			for _, r := range measured {
				got = append(got, r.Mode)
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("played %q, want %q", got, want)
			}
			if real && len(left) > 0 || !real && len(left) == 0 {
				t.Fatalf("left out %q on real sockets %v: want WebTransport left out only off them", left, real)
			}
			point := strings.Join(strings.Fields(strings.ReplaceAll(page.Point, nbsp, " ")), " ")
			for _, name := range left {
				if !strings.Contains(point, "Left out here: "+name+", which rides UDP datagrams") {
					t.Errorf("the conclusion does not say %s was left out: %q", name, point)
				}
			}
			whole := report.Compare(measured...)
			value := func(measure string, m call.Mode) string {
				for _, row := range whole.Measures {
					if row.Name == measure {
						return row.ValueText(row.Values[m.Key], "-")
					}
				}
				t.Fatalf("no measure %s", measure)
				return ""
			}
			walkie, tcp, two, wt := modes.Ends()[0], rawtcp.Mode(), h2.Mode(), webtransport.Mode()
			says := []string{
				"On raw TCP the interruption waited " + value("interruption_waited_ms", tcp) + " and grandma's afterthought " + value("afterthought_waited_ms", tcp),
				"its interruption waited " + value("interruption_waited_ms", h1full.Mode()) + ", the walkie-talkie's " + value("interruption_waited_ms", walkie),
				"A browser cannot: its fetch sends the whole request before it reads the answer",
				fmt.Sprintf("HTTP/2 ran %s streams on %s connection", value("streams", two), value("connections", two)),
				"So taking turns was the rule of request and answer, not of HTTP, nor of the wire.",
			}
			if real {
				says = append(says, fmt.Sprintf("did the same (%s) after %s round trips to set up where TCP took %s, at %s of overhead per line where TCP paid %s",
					value("interruption_waited_ms", wt), value("setup_round_trips", wt), value("setup_round_trips", tcp), value("overhead_bytes_per_line", wt), value("overhead_bytes_per_line", tcp)))
			}
			for _, want := range says {
				if !strings.Contains(point, want) {
					t.Errorf("the conclusion says %q; want it to say %q, as measured", point, want)
				}
			}
			// The narration fits --width 60 --ascii.
			for _, line := range strings.Split(out.String(), "\n") {
				if len([]rune(line)) > 60 || strings.ContainsFunc(line, func(r rune) bool { return r > 127 }) {
					t.Errorf("a line of %d columns, or not ASCII, at --width 60 --ascii: %q", len([]rune(line)), line)
				}
			}
			if page.Table == nil || !page.TableFirst || len(page.Table.Calls) != len(want) {
				t.Errorf("the chapter's picture is not a table of its %d calls", len(want))
			}
		}
		if real {
			t.Run("real sockets", check)
		} else {
			t.Run("fake clock", func(t *testing.T) { synctest.Test(t, check) })
		}
	}
}

// TestBeneathConcludesOnlyWhatWasMeasured: when a way beneath HTTP's turns
// waited as a turn does, the conclusion gives its wait and claims neither
// that the wire is full duplex nor that the turns were request and
// answer's rule alone.
func TestBeneathConcludesOnlyWhatWasMeasured(t *testing.T) {
	played := func(m call.Mode, interruption, afterthought float64) report.Call {
		return report.Call{Mode: m.Key, Transport: m.Transport, LatencyMS: 40, Summary: report.Summary{
			Interruption: report.Moment{WaitedMS: &interruption}, Afterthought: report.Moment{WaitedMS: &afterthought},
		}}
	}
	walkie, tcp := modes.Ends()[0], rawtcp.Mode()
	for _, c := range []struct {
		tcp              float64
		fullDuplex, rule bool
	}{{0, true, true}, {12, true, true}, {300, false, false}} {
		point := beneathPoint(report.Compare(played(walkie, 810, 640), played(tcp, c.tcp, 0)), nil)
		point = strings.ReplaceAll(point, nbsp, " ")
		if want := fmt.Sprintf("On raw TCP the interruption waited %.0f ms", c.tcp); !strings.Contains(point, want) {
			t.Errorf("TCP's interruption waited %v ms: the conclusion says %q, want %q", c.tcp, point, want)
		}
		if got := strings.Contains(point, "the wire was always full duplex"); got != c.fullDuplex {
			t.Errorf("TCP's interruption waited %v ms: says the wire is full duplex: %v, want %v (%q)", c.tcp, got, c.fullDuplex, point)
		}
		if got := strings.Contains(point, "taking turns was the rule of request and answer"); got != c.rule {
			t.Errorf("TCP's interruption waited %v ms: concludes the turns were request and answer's: %v, want %v (%q)", c.tcp, got, c.rule, point)
		}
	}
}
