package render

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/view/report"
)

// laneLabel is the least width of the lane names on the left, and
// maxLaneLabel the most ("webtransport grandchild" and a space), if a third
// of the width allows.
const (
	laneLabel    = 12
	maxLaneLabel = 24
)

// Lane is one row of the swimlanes: a side of one call.
type Lane struct {
	// Name is printed on the left, cut to fit.
	Name  string
	Side  timeline.Side
	Spans []timeline.Span
	// Link says the lane is a direction of the link, not a side: its
	// talking is the link busy serialising bytes (LinkLanes).
	Link bool
}

// Lanes returns the two lanes of one call, grandchild then grandma.
func Lanes(tl *timeline.Timeline) []Lane {
	spans := tl.Spans()
	return []Lane{
		{Name: SideName(timeline.Client), Side: timeline.Client, Spans: spans},
		{Name: SideName(timeline.Server), Side: timeline.Server, Spans: spans},
	}
}

// LinkLanes returns the lanes of a limited link, one per direction (up:
// the grandchild's bytes to grandma; down: grandma's to her), each showing
// as talking the times it spent serialising bytes (r.LinkBusy); none for a
// link without a bandwidth.
func LinkLanes(r report.Call) []Lane {
	if len(r.LinkBusy) == 0 {
		return nil
	}
	lanes := []Lane{{Name: "link up", Side: timeline.Client, Link: true}, {Name: "link down", Side: timeline.Server, Link: true}}
	for _, b := range r.LinkBusy {
		side := timeline.Client
		if b.From == timeline.Server.String() {
			side = timeline.Server
		}
		lanes[side].Spans = append(lanes[side].Spans, timeline.Span{Side: side, State: timeline.Talking,
			Start: time.Duration(b.StartMS * float64(time.Millisecond)), End: time.Duration(b.EndMS * float64(time.Millisecond))})
	}
	return lanes
}

// Swimlanes draws lanes on one time axis from 0 to total, fitted to the
// style's width, with a legend. In each column it shows the most telling
// state of the side then: talking, else waiting, else listening, else idle.
func Swimlanes(w io.Writer, lanes []Lane, total time.Duration, style Style) error {
	return swimlanes(w, lanes, total, total, style)
}

// LiveSwimlanes draws the lanes of a call still going on at now on an axis
// from 0 to total, as Swimlanes does, leaving the columns after now blank:
// what has not happened yet is not idle time.
func LiveSwimlanes(w io.Writer, lanes []Lane, total, now time.Duration, style Style) error {
	return swimlanes(w, lanes, max(total, now), now, style)
}

func swimlanes(w io.Writer, lanes []Lane, total, now time.Duration, style Style) error {
	g := style.glyphs()
	label := laneLabel // wide enough for the longest lane name
	for _, lane := range lanes {
		label = max(label, min(utf8.RuneCountInString(lane.Name)+1, maxLaneLabel, max(style.width()/3, laneLabel)))
	}
	cols := style.width() - label
	// Each column covers a whole number of milliseconds, as few as fit.
	step := max((total+time.Duration(cols)*time.Millisecond-1)/time.Duration(cols)/time.Millisecond*time.Millisecond, time.Millisecond)
	n := min(int(total/step)+1, cols) // the column holding total included
	every := tickEvery(step)
	var b strings.Builder
	// The axis: labels over the ticks, then the ruler.
	labels := []rune(strings.Repeat(" ", label+n+8))
	ruler := make([]string, n)
	for c := range ruler {
		ruler[c] = g.axis
	}
	for t := time.Duration(0); t < time.Duration(n)*step; t += every {
		c := int(t / step)
		ruler[c] = g.tick
		if text := []rune(axisLabel(t)); label+c+len(text) <= style.width() {
			copy(labels[label+c:], text)
		}
	}
	fmt.Fprintln(&b, strings.TrimRight(string(labels[:min(len(labels), style.width())]), " "))
	fmt.Fprintln(&b, strings.Repeat(" ", label)+style.paint(sgrDim, strings.Join(ruler, "")))
	for _, lane := range lanes {
		b.WriteString(style.paint(sgrBold+";"+sideColor(lane.Side), fit(lane.Name, label-1, g.ellipsis)) + " ")
		for c := 0; c < n; c++ {
			start := time.Duration(c) * step
			if start > now {
				b.WriteString(" ")
				continue
			}
			b.WriteString(cell(lane, start, start+step, g, style))
		}
		b.WriteString("\n")
	}
	legend := []string{
		style.paint(sideColor(timeline.Client), g.talk) + " talking",
		style.paint(sgrDim+";"+sideColor(timeline.Client), g.listen) + " listening",
		style.paint(sgrBoldRed, g.wait) + " waiting",
		style.paint(sgrDim, g.idle) + " idle",
		"1 column = " + result.DurationText(step),
	}
	if slices.ContainsFunc(lanes, func(l Lane) bool { return l.Link }) {
		legend = slices.Insert(legend, len(legend)-1, "on a link lane "+style.paint(sideColor(timeline.Client), g.talk)+" busy, "+
			style.paint(sgrDim+";"+sideColor(timeline.Client), g.listen)+" partly")
	}
	line := ""
	for _, item := range legend {
		if line != "" && label+visibleWidth(line)+2+visibleWidth(item) > style.width() {
			fmt.Fprintln(&b, strings.Repeat(" ", label)+line)
			line = ""
		}
		if line != "" {
			line += "  "
		}
		line += item
	}
	fmt.Fprintln(&b, strings.Repeat(" ", label)+line)
	_, err := io.WriteString(w, b.String())
	return err
}

// cell draws one column of a lane: the state that matters most in
// [start, end). A span of no length (one short message) still shows in the
// column it falls in.
func cell(lane Lane, start, end time.Duration, g glyphs, style Style) string {
	if lane.Link {
		return linkCell(lane, start, end, g, style)
	}
	best := timeline.Idle
	for _, s := range lane.Spans {
		if s.Side != lane.Side || s.State <= best {
			continue
		}
		if s.Start < end && (s.End > start || (s.End == s.Start && s.Start >= start)) {
			best = s.State
		}
	}
	switch best {
	case timeline.Talking:
		return style.paint(sideColor(lane.Side), g.talk)
	case timeline.Waiting:
		return style.paint(sgrBoldRed, g.wait)
	case timeline.Listening:
		return style.paint(sgrDim+";"+sideColor(lane.Side), g.listen)
	}
	return style.paint(sgrDim, g.idle)
}

// linkCell draws a column of a link lane: busy for at least half of it,
// busy for less (a line of a few bytes, an acknowledgement), or idle; so
// that a direction that carried only a few short lines does not look full.
func linkCell(lane Lane, start, end time.Duration, g glyphs, style Style) string {
	var busy time.Duration
	for _, s := range lane.Spans {
		busy += max(min(s.End, end)-max(s.Start, start), 0)
	}
	switch {
	case busy*2 >= end-start:
		return style.paint(sideColor(lane.Side), g.talk)
	case busy > 0:
		return style.paint(sgrDim+";"+sideColor(lane.Side), g.listen)
	}
	return style.paint(sgrDim, g.idle)
}

// tickEvery returns the time between two axis ticks: the first round
// time that puts them at least 8 columns apart.
func tickEvery(step time.Duration) time.Duration {
	for _, every := range []time.Duration{
		10 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
		time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute,
	} {
		if every >= 8*step {
			return every
		}
	}
	return 10 * time.Minute
}

func axisLabel(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	if d >= time.Second {
		return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", d.Seconds()), "0"), ".") + "s"
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}
