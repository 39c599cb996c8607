package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/duplexdemo/duplexdemo/pkg/view/report"
)

// TestCompareColumnsFitTheirModes: a column whose mode's name is longer
// than an equal share of the width gets the room it needs from the others
// when they need less, so that no name is cut while the table fits; when
// even that does not fit, names are cut and the table still keeps to its
// width.
func TestCompareColumnsFitTheirModes(t *testing.T) {
	table := func(keys ...string) report.Table {
		var tb report.Table
		m := report.Measure{Name: "transport", Title: "transport", Values: map[string]any{}}
		for _, k := range keys {
			tb.Calls = append(tb.Calls, report.Call{Mode: k})
			m.Values[k] = "TCP"
		}
		tb.Measures = []report.Measure{m}
		return tb
	}
	style := Style{Width: 80, ASCII: true}
	var b bytes.Buffer
	if err := Compare(&b, table("walkie", "h1full", "h2", "webtransport", "tcp"), style); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, key := range []string{"walkie", "h1full", "h2", "webtransport", "tcp"} {
		if !strings.Contains(out, " "+key) {
			t.Errorf("the column of %s is cut:\n%s", key, out)
		}
	}
	b.Reset()
	if err := Compare(&b, table("a-very-long-mode-name", "another-very-long-one", "and-a-third-long-name", "x", "y"), style); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(b.String(), "\n") {
		if visibleWidth(line) > 80 {
			t.Errorf("a line of %d columns, over 80: %q", visibleWidth(line), line)
		}
	}
}
