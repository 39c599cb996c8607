package mermaid_test

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/duplexdemo/duplexdemo/internal/scaletest"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/view/mermaid"
)

// TestLongCallOnce checks that a long call, one par block of messages in
// flight both ways with the notes of waits among them, draws each message
// once.
func TestLongCallOnce(t *testing.T) {
	res := scaletest.LongCall(3000)
	d := mermaid.Diagram(res)
	arrows := map[string]bool{}
	for _, l := range strings.Split(d, "\n") {
		if arrowLine.MatchString(strings.TrimSpace(l)) {
			if arrows[l] {
				t.Fatalf("the diagram draws %q twice", l)
			}
			arrows[l] = true
		}
	}
	sent := 0
	for _, m := range res.Timeline.Messages {
		if m.Sent {
			sent++
		}
	}
	if len(arrows) != sent {
		t.Errorf("%d arrows, want one per message sent: %d", len(arrows), sent)
	}
	if !strings.Contains(d, "    par ") {
		t.Error("no par block: the long call should have messages in flight both ways at once")
	}
}

func BenchmarkWrite(b *testing.B) {
	for _, n := range scaletest.Sizes {
		res := scaletest.LongCall(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				if err := write(res); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func write(res *result.Result) error { return mermaid.Write(io.Discard, res) }

// BenchmarkScale reports t(100k events) / t(10k events) as "ratio".
func BenchmarkScale(b *testing.B) { scaletest.Benchmark(b, write, scaletest.LongCall) }

// TestLinear fails if a call of ten times the events takes more than 25
// times as long to write: a quadratic step makes the ratio about 100.
func TestLinear(t *testing.T) { scaletest.CheckLinear(t, write, scaletest.LongCall) }
