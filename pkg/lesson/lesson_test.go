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
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/view/render"
	"github.com/duplexdemo/duplexdemo/pkg/view/report"
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
