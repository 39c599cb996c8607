package htmlreport_test

import (
	"flag"
	"testing"

	"go.uber.org/goleak"

	"github.com/duplexdemo/duplexdemo/internal/exporttest"
	"github.com/duplexdemo/duplexdemo/pkg/view/htmlreport"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestGolden(t *testing.T) {
	exporttest.Golden(t, *update, ".html", htmlreport.Write, nil)
}
