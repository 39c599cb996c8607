package traceevent_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/duplexdemo/duplexdemo/internal/scaletest"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/view/traceevent"
)

// TestLongCall checks the trace of a long call against the format, as the
// golden calls are checked.
func TestLongCall(t *testing.T) {
	res := scaletest.LongCall(3000)
	var b bytes.Buffer
	if err := traceevent.Write(&b, res); err != nil {
		t.Fatal(err)
	}
	checkTrace(t, b.Bytes(), []*result.Result{res})
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

func write(res *result.Result) error { return traceevent.Write(io.Discard, res) }

// BenchmarkScale reports t(100k events) / t(10k events) as "ratio".
func BenchmarkScale(b *testing.B) { scaletest.Benchmark(b, write, scaletest.LongCall) }

// TestLinear fails if a call of ten times the events takes more than 25
// times as long to write: a quadratic step makes the ratio about 100.
func TestLinear(t *testing.T) { scaletest.CheckLinear(t, write, scaletest.LongCall) }
