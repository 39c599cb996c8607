package render

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/view/report"
)

// Compare prints a comparison of any number of calls: a row per measure,
// a column per mode, fitted to the style's width. Value columns read best
// close to their names, so the table is no wider than DefaultWidth; on a
// terminal too narrow for every mode's column, the modes are split over
// tables one under the next, each as wide as fits.
func Compare(w io.Writer, t report.Table, style Style) error {
	g := style.glyphs()
	const name, minCol = 25, 10
	width := min(style.width(), DefaultWidth)
	perTable := max((width-2-name)/minCol, 1)
	var b strings.Builder
	latency, conditions := 0.0, ""
	if len(t.Calls) > 0 {
		// Every call had the same link and script: the first says which.
		c := t.Calls[0]
		latency = c.LatencyMS
		if l := c.Link; l != nil && l.BandwidthBPS > 0 {
			conditions += ", " + report.RateText(l.BandwidthBPS) + " each way"
		}
		if p := c.Summary.Photo; p != nil {
			conditions += ", a " + story.PhotoSize(p.Bytes) + " photo"
		}
		if l := c.Link; l != nil && l.JitterMS > 0 {
			conditions += fmt.Sprintf(", jitter %s, seed %d", result.MSText(l.JitterMS), l.Seed)
		}
	}
	title := fmt.Sprintf("Compare: the same call %d ways, latency %s%s", len(t.Calls), result.MSText(latency), conditions)
	fmt.Fprintln(&b, style.paint(sgrBold, strings.TrimRight(fit(title, style.width(), g.ellipsis), " ")))
	for from := 0; from < len(t.Calls); from += perTable {
		calls := t.Calls[from:min(from+perTable, len(t.Calls))]
		if from > 0 {
			b.WriteString("\n")
		}
		cols := columns(t, calls, width-2-name, minCol, g.dash)
		fmt.Fprintf(&b, "  %-*s", name, "")
		for i, c := range calls {
			fmt.Fprint(&b, pad(fit(c.Mode, cols[i]-1, g.ellipsis), cols[i]))
		}
		b.WriteString("\n")
		for _, m := range t.Measures {
			fmt.Fprintf(&b, "  %s", fit(m.Title, name, g.ellipsis))
			for i, c := range calls {
				fmt.Fprint(&b, pad(fit(m.ValueText(m.Values[c.Mode], g.dash), cols[i]-1, g.ellipsis), cols[i]))
			}
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// columns returns the width of each call's column, in room columns in
// all: an equal share of the room, at least least, when every column's
// mode and values fit in it; otherwise what each needs (a space, then its
// widest text), the room left shared out, when that fits; otherwise the
// equal share, texts cut to fit.
func columns(t report.Table, calls []report.Call, room, least int, dash string) []int {
	share := max(room/len(calls), least)
	need := make([]int, len(calls))
	total, widest := 0, 0
	for i, c := range calls {
		need[i] = visibleWidth(c.Mode)
		for _, m := range t.Measures {
			need[i] = max(need[i], visibleWidth(m.ValueText(m.Values[c.Mode], dash)))
		}
		need[i]++
		total += need[i]
		widest = max(widest, need[i])
	}
	cols := make([]int, len(calls))
	for i := range cols {
		cols[i] = share
		if widest > share && total <= room {
			cols[i] = need[i] + (room-total)/len(calls)
		}
	}
	return cols
}

// pad right-aligns text in n columns.
func pad(text string, n int) string {
	return strings.Repeat(" ", max(n-visibleWidth(strings.TrimRight(text, " ")), 0)) + strings.TrimRight(text, " ")
}

// CallLanes returns the lanes of several calls, named by mode, one call
// above the next, to draw on one time axis, and the axis's length: the
// longest call.
func CallLanes(modes []string, tls []*timeline.Timeline) ([]Lane, time.Duration) {
	var lanes []Lane
	var total time.Duration
	for i, tl := range tls {
		for _, lane := range Lanes(tl) {
			lane.Name = modes[i] + " " + lane.Name
			lanes = append(lanes, lane)
		}
		total = max(total, tl.Duration)
	}
	return lanes, total
}
