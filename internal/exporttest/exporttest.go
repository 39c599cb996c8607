// Package exporttest holds what the tests of the picture exports share:
// both calls played on the fake clock, and golden files of what an export
// writes for each call alone and for both together.
package exporttest

import (
	"bytes"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/result"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/internal/golden"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
	"github.com/duplexdemo/duplexdemo/pkg/story"
)

// FakeCalls plays both modes with the default script and link inside a
// synctest bubble, where every time is exact.
func FakeCalls(t *testing.T) (walkie, phone *result.Result) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		walkie = calltest.InMemory(t, halfduplex.Mode(), story.Default(), 40*time.Millisecond)
		phone = calltest.InMemory(t, fullduplex.Mode(), story.Default(), 40*time.Millisecond)
	})
	return walkie, phone
}

// Case is one thing an export is written for: a call alone, or both as
// compare writes them.
type Case struct {
	// Name is the case's golden file: walkie, phone or compare, then the
	// export's suffix.
	Name  string
	Calls []*result.Result
}

// Cases returns the walkie alone, the phone alone, and both.
func Cases(walkie, phone *result.Result, suffix string) []Case {
	return []Case{
		{"walkie" + suffix, []*result.Result{walkie}},
		{"phone" + suffix, []*result.Result{phone}},
		{"compare" + suffix, []*result.Result{walkie, phone}},
	}
}

// Golden writes each case with write and compares it with its golden file
// (or rewrites that with update), then hands the output to check, if any.
func Golden(t *testing.T, update bool, suffix string, write func(io.Writer, ...*result.Result) error, check func(t *testing.T, out []byte, calls []*result.Result)) {
	walkie, phone := FakeCalls(t)
	for _, c := range Cases(walkie, phone, suffix) {
		t.Run(c.Name, func(t *testing.T) {
			var b bytes.Buffer
			if err := write(&b, c.Calls...); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, update, c.Name, b.Bytes())
			if check != nil {
				check(t, b.Bytes(), c.Calls)
			}
		})
	}
}
