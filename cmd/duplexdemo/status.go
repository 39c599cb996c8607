package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/class"
)

// tallyEvery bounds how often the tally is printed off a terminal, where
// each is a line of its own.
const tallyEvery = time.Second

// statusLine is serve's live one-line tally of the class experiment. On a
// terminal it is the last line, redrawn in place, and the call log is
// written above it; elsewhere (a file, a pipe) it is a plain line each
// time it changes, at most once every tallyEvery.
type statusLine struct {
	out   io.Writer
	term  bool
	width int

	mu      sync.Mutex
	shown   string // the line on the terminal now
	pending string // off a terminal: the tally not yet printed
	printed string // off a terminal: the last tally printed
}

func newStatusLine(deps *env) *statusLine {
	w := deps.TerminalWidth
	if w <= 0 {
		w = 80
	}
	return &statusLine{out: deps.Out, term: deps.IsTerminal, width: w}
}

// fit cuts the tally to the terminal's width, so that it stays one line.
func (s *statusLine) fit(line string) string {
	if len(line) >= s.width {
		return line[:s.width-4] + "..."
	}
	return line
}

// set shows a new tally.
func (s *statusLine) set(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.term {
		s.pending = line
		return
	}
	s.shown = s.fit(line)
	fmt.Fprintf(s.out, "\r\x1b[2K%s", s.shown)
}

// flush prints the pending tally off a terminal, if it changed.
func (s *statusLine) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.term && s.pending != "" && s.pending != s.printed {
		fmt.Fprintln(s.out, s.pending)
		s.printed = s.pending
	}
}

// Above returns a writer for w whose writes appear above the tally.
func (s *statusLine) Above(w io.Writer) io.Writer {
	if !s.term {
		return w
	}
	return writerFunc(func(p []byte) (int, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.shown != "" {
			fmt.Fprint(s.out, "\r\x1b[2K")
		}
		n, err := w.Write(p)
		if s.shown != "" {
			fmt.Fprint(s.out, s.shown)
		}
		return n, err
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// Follow keeps the tally up to date with the room until ctx ends.
func (s *statusLine) Follow(ctx context.Context, room *class.Room) {
	tick := time.NewTicker(tallyEvery)
	defer tick.Stop()
	for ctx.Err() == nil {
		_, stats, updates, stop := room.Watch()
		s.set(stats.Tally())
		s.flush()
	watch:
		for {
			select {
			case <-ctx.Done():
				break watch
			case <-tick.C:
				s.flush()
			case u, ok := <-updates:
				if !ok {
					break watch // fallen behind: watch again
				}
				s.set(u.Stats.Tally())
			}
		}
		stop()
		if ctx.Err() == nil {
			select { // a closed room: do not spin
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	s.flush()
}

// End leaves the tally as the terminal's last line, and the cursor below it.
func (s *statusLine) End() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.term && s.shown != "" {
		fmt.Fprintln(s.out)
		s.shown = ""
	}
}
