package render

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// timeColumn is the width of the log's time column.
const timeColumn = 7

// LiveLog prints each event of a call as it is recorded: its time, and what
// happened in the grandchild's column or in grandma's. Its Observe method is
// a timeline.Observer.
type LiveLog struct {
	w     io.Writer
	style Style
	g     glyphs
	cols  [2]int // width of each side's column

	mu  sync.Mutex
	err error
}

// NewLiveLog returns a live log writing to w.
func NewLiveLog(w io.Writer, style Style) *LiveLog {
	rest := style.width() - timeColumn - 3 // " │ " between the columns
	return &LiveLog{w: w, style: style, g: style.glyphs(), cols: [2]int{rest / 2, rest - rest/2}}
}

// Header prints the column titles.
func (l *LiveLog) Header(title string) {
	l.print(l.style.paint(sgrBold, strings.TrimRight(fit(title, l.style.width(), l.g.ellipsis), " ")))
	l.line(l.style.paint(sgrBold, fmt.Sprintf("%*s", timeColumn, "ms ")),
		l.style.paint(sgrBold+";"+sideColor(timeline.Client), fit("GRANDCHILD (client)", l.cols[0], "")),
		l.style.paint(sgrBold+";"+sideColor(timeline.Server), "GRANDMA (server)"))
}

// Observe prints one event. It is safe to use as a timeline.Observer.
func (l *LiveLog) Observe(e timeline.Event) {
	g := l.g
	var cell, code string
	quoted := func(verb, arrow string) string { return verb + " " + arrow + " \"" + e.Text + "\"" }
	switch e.Kind {
	case timeline.KindConnect:
		cell, code = g.open+" "+e.Text, sgrDim
	case timeline.KindClose:
		cell, code = g.closed+" "+e.Text, sgrDim
	case timeline.KindWant:
		return // a line said at once needs no "wants to"; a wait shows below
	case timeline.KindWaiting:
		cell, code = g.pause+" WAITS to speak: "+e.Reason, sgrBoldRed
	case timeline.KindSend:
		if e.Waited >= timeline.Resolution {
			l.row(e, fmt.Sprintf("%s wait over after %s", g.resume, formatMS(e.Waited)), sgrBoldRed)
		}
		arrow := g.right
		if e.Side == timeline.Server {
			arrow = g.left
		}
		cell, code = quoted("says", arrow), sgrBold+";"+sideColor(e.Side)
	case timeline.KindHeard:
		arrow := g.left
		if e.Side == timeline.Server {
			arrow = g.right
		}
		cell, code = quoted("hears", arrow), sideColor(e.Side)
	default:
		cell = e.Kind.String() + " " + e.Text
	}
	l.row(e, cell, code)
}

// row prints cell in e's side's column.
func (l *LiveLog) row(e timeline.Event, cell, code string) {
	t := fmt.Sprintf("%*d ", timeColumn-1, e.At.Round(time.Millisecond).Milliseconds())
	cell = l.style.paint(code, strings.TrimRight(fit(cell, l.cols[e.Side], l.g.ellipsis), " "))
	if e.Side == timeline.Client {
		l.line(t, cell, "")
	} else {
		l.line(t, "", cell)
	}
}

// line prints the time and both columns; client is already painted, so it
// is padded by its visible width.
func (l *LiveLog) line(t, client, server string) {
	pad := l.cols[0] - visibleWidth(client)
	s := t + client + strings.Repeat(" ", max(pad, 0)) + " " + l.style.paint(sgrDim, l.g.rule) + " " + server
	l.print(strings.TrimRight(s, " "))
}

func (l *LiveLog) print(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return
	}
	_, l.err = io.WriteString(l.w, s+"\n")
}

// Err returns the first error writing the log, if any.
func (l *LiveLog) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}
