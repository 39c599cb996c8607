package timeline

import (
	"context"
	"sync"
	"time"
)

// EarWait bounds how long a line heard on one stream waits for the lines
// sent before it to be heard on theirs (see Ear): a moment, however busy
// the machine.
const EarWait = time.Second

// Ear records the lines one side hears, on any stream of a connection or
// session, in the order the recorder takes them.
//
// HTTP/2 and QUIC hand each stream's bytes to a reader of its own: two
// lines that cross one after the other are read by goroutines that wake in
// any order, so a line on one stream may be read a moment before a line
// sent before it on another. The recorder takes a side's lines in the
// order they were sent, but for a line that overtakes a photo still
// crossing (Recorder.Heard). So a line that is not the next one waits, at
// most EarWait, for the lines before it to be heard on their streams, and
// is heard right after them.
type Ear struct {
	rec  *Recorder
	from Side // the side whose lines it hears

	mu sync.Mutex
	// news is closed, and replaced, each time a line is heard.
	news chan struct{}
}

// NewEar returns an ear that records on rec the lines from says.
func NewEar(rec *Recorder, from Side) *Ear {
	return &Ear{rec: rec, from: from, news: make(chan struct{})}
}

// Hear records that the whole of text has been read. It returns the
// message it was, or the recorder's error if it is still not the next one
// after EarWait: a line that was never sent.
func (e *Ear) Hear(ctx context.Context, text string) (Message, error) {
	var wait *time.Timer
	for {
		e.mu.Lock()
		m, err := e.rec.Heard(e.from, text)
		news := e.news
		if err == nil {
			close(e.news)
			e.news = make(chan struct{})
		}
		e.mu.Unlock()
		if err == nil {
			return m, nil
		}
		if wait == nil {
			wait = time.NewTimer(EarWait)
			defer wait.Stop()
		}
		select {
		case <-news: // a line was heard on another stream: try again
		case <-wait.C:
			return m, err
		case <-ctx.Done():
			return m, err
		}
	}
}
