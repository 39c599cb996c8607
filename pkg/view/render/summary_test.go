package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/duplexdemo/duplexdemo/pkg/view/report"
)

// TestSummaryShowsTheModesNote: a mode's note comes last, under the
// numbers, wrapped to the width; a mode with none prints no note.
func TestSummaryShowsTheModesNote(t *testing.T) {
	note := "A browser cannot make this call: fetch() streams a request body only with duplex: 'half', and lets the page read the answer only once the body is sent."
	for _, width := range []int{60, 80} {
		var b bytes.Buffer
		if err := Summary(&b, report.Call{Mode: "m", Transport: "HTTP/1.1", Note: note}, Style{Width: width, ASCII: true}); err != nil {
			t.Fatal(err)
		}
		out := strings.TrimRight(b.String(), "\n")
		lines(t, out, width, true)
		rows := strings.Split(out, "\n")
		var tail []string
		for i := len(rows) - 1; i >= 0 && rows[i] != ""; i-- {
			tail = append([]string{strings.TrimSpace(rows[i])}, tail...)
		}
		if got := strings.Join(tail, " "); got != "Note: "+note {
			t.Errorf("at width %d the summary ends with %q, want the note %q:\n%s", width, got, "Note: "+note, out)
		}
	}
	var b bytes.Buffer
	if err := Summary(&b, report.Call{Mode: "m", Transport: "HTTP/1.1"}, Style{Width: 80}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "Note:") {
		t.Errorf("a mode without a note got one:\n%s", b.String())
	}
}
