package htmlreport_test

import (
	"bytes"
	"flag"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/internal/golden"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
	"github.com/duplexdemo/duplexdemo/pkg/htmlreport"
	"github.com/duplexdemo/duplexdemo/pkg/story"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeCalls plays both modes with the default script and link inside a
// synctest bubble, where every time is exact.
func fakeCalls(t *testing.T) (walkie, phone *call.Result) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		walkie = calltest.InMemory(t, halfduplex.Run, story.Default(), 40*time.Millisecond)
		phone = calltest.InMemory(t, fullduplex.Run, story.Default(), 40*time.Millisecond)
	})
	return walkie, phone
}

func TestGolden(t *testing.T) {
	walkie, phone := fakeCalls(t)
	for _, tc := range []struct {
		name  string
		calls []*call.Result
	}{
		{"walkie.html", []*call.Result{walkie}},
		{"phone.html", []*call.Result{phone}},
		{"compare.html", []*call.Result{walkie, phone}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := htmlreport.Write(&b, tc.calls...); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, *update, tc.name, b.Bytes())
		})
	}
}
