package render

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// timeColumn is the width of the log's time column.
const timeColumn = 7

// lineBuffer is how many lines the live log holds for its printer: far
// more than a call prints, so that a slow terminal never holds up the call.
const lineBuffer = 1024

// LiveLog prints each event of a call as it is recorded: its time, and what
// happened in the grandchild's column or in grandma's. Its Observe method is
// a timeline.Observer. Lines are written by a goroutine of its own, so that
// the call never waits for the terminal.
type LiveLog struct {
	style Style
	g     glyphs
	cols  [2]int // width of each side's column

	limit int // events to print, 0 for all
	shown int // events printed so far

	lines chan string   // formatted lines, in order, for the printer
	done  chan struct{} // closed when the printer has ended
	err   error         // the printer's first write error; read after done
}

// NewLiveLog returns a live log writing to w, and starts its printer. The
// caller must call Close when the call is over.
func NewLiveLog(w io.Writer, style Style) *LiveLog {
	rest := style.width() - timeColumn - 3 // " │ " between the columns
	l := &LiveLog{style: style, g: style.glyphs(), cols: [2]int{rest / 2, rest - rest/2},
		lines: make(chan string, lineBuffer), done: make(chan struct{})}
	go l.printer(w)
	return l
}

// printer writes the lines as they come; after a write error it drops them.
func (l *LiveLog) printer(w io.Writer) {
	defer close(l.done)
	for s := range l.lines {
		if l.err == nil {
			_, l.err = io.WriteString(w, s+"\n")
		}
	}
}

// Close prints the lines still waiting, stops the printer and returns the
// first error writing the log, if any. Observe must not be called after.
func (l *LiveLog) Close() error {
	close(l.lines)
	<-l.done
	return l.err
}

// Limit makes the log print only its first n events, then one line
// saying that the call goes on; 0 means no limit. Call it before the call.
func (l *LiveLog) Limit(n int) { l.limit = n }

// Header prints the title, if any, and the column titles.
func (l *LiveLog) Header(title string) {
	if title != "" {
		l.print(l.style.paint(sgrBold, strings.TrimRight(fit(title, l.style.width(), l.g.ellipsis), " ")))
	}
	l.line(l.style.paint(sgrBold, fmt.Sprintf("%*s", timeColumn, "ms ")),
		l.style.paint(sgrBold+";"+sideColor(timeline.Client), fit("GRANDCHILD (client)", l.cols[0], "")),
		l.style.paint(sgrBold+";"+sideColor(timeline.Server), "GRANDMA (server)"))
}

// Observe prints one event. It is safe to use as a timeline.Observer: it
// only formats the event and queues its lines for the printer.
func (l *LiveLog) Observe(e timeline.Event) {
	if e.Kind == timeline.KindWant {
		return // a line said at once needs no "wants to"; a wait shows below
	}
	if l.limit > 0 {
		if l.shown++; l.shown > l.limit {
			if l.shown == l.limit+1 {
				l.print(strings.Repeat(" ", timeColumn) + l.g.ellipsis + " (the call goes on)")
			}
			return
		}
	}
	g := l.g
	var cell, code string
	quoted := func(verb, arrow string) string { return verb + " " + arrow + " \"" + e.Text + "\"" }
	switch e.Kind {
	case timeline.KindConnect:
		cell, code = g.open+" "+e.Text, sgrDim
	case timeline.KindClose:
		cell, code = g.closed+" "+e.Text, sgrDim
	case timeline.KindWaiting:
		l.note(e, fmt.Sprintf("%s WAITS to say the %s", g.pause, e.Label), "  because: "+e.Reason)
		return
	case timeline.KindSend:
		if e.Waited >= timeline.Resolution {
			l.note(e, fmt.Sprintf("%s wait over after %s", g.resume, result.DurationText(e.Waited)))
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

// row prints cell in e's side's column, cut to fit.
func (l *LiveLog) row(e timeline.Event, cell, code string) {
	l.cell(l.time(e), e.Side, strings.TrimRight(fit(cell, l.cols[e.Side], l.g.ellipsis), " "), code)
}

// note prints a marker about waiting in e's side's column, one line per
// part, each wrapped onto more lines rather than cut: the reason for a wait
// is the lesson.
func (l *LiveLog) note(e timeline.Event, parts ...string) {
	t := l.time(e)
	blank := strings.Repeat(" ", timeColumn)
	width := l.cols[e.Side]
	for _, part := range parts {
		indent := part[:len(part)-len(strings.TrimLeft(part, " "))] + "  "
		line := ""
		for _, word := range strings.Fields(part) {
			if line == "" {
				line = part[:len(part)-len(strings.TrimLeft(part, " "))] + word
				continue
			}
			if utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) > width {
				l.cell(t, e.Side, line, sgrBoldRed)
				t, line = blank, indent+word
				continue
			}
			line += " " + word
		}
		l.cell(t, e.Side, strings.TrimRight(fit(line, width, l.g.ellipsis), " "), sgrBoldRed)
		t = blank
	}
}

// time formats the time column for e: when it happened, or, for a wait
// noticed, when the side wanted to speak, so that the wait's start and its
// end ("wait over after …") add up.
func (l *LiveLog) time(e timeline.Event) string {
	at := e.At
	if e.Kind == timeline.KindWaiting {
		at -= e.Waited
	}
	return fmt.Sprintf("%*d ", timeColumn-1, at.Round(time.Millisecond).Milliseconds())
}

// cell prints text, painted, in side's column.
func (l *LiveLog) cell(t string, side timeline.Side, text, code string) {
	text = l.style.paint(code, text)
	if side == timeline.Client {
		l.line(t, text, "")
	} else {
		l.line(t, "", text)
	}
}

// line prints the time and both columns; client is already painted, so it
// is padded by its visible width.
func (l *LiveLog) line(t, client, server string) {
	pad := l.cols[0] - visibleWidth(client)
	s := t + client + strings.Repeat(" ", max(pad, 0)) + " " + l.style.paint(sgrDim, l.g.rule) + " " + server
	l.print(strings.TrimRight(s, " "))
}

func (l *LiveLog) print(s string) { l.lines <- s }
