package webtransport

import (
	"context"
	"sync"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// hearWait bounds how long a line heard on one stream waits for the lines
// sent before it to be heard on theirs (see ear): a moment, however busy
// the machine.
const hearWait = time.Second

// ear records the lines one side hears, on any stream of the session, in
// the order the recorder takes them.
//
// QUIC hands each stream's bytes to a reader of its own: two lines that
// cross in one packet, or one after the other, are read by goroutines that
// wake in any order, so a line on one stream may be read a moment before a
// line sent before it on another. The recorder takes a side's lines in the
// order they were sent, but for a line that overtakes a photo still
// crossing (timeline.Recorder.Heard). So a line that is not the next one
// waits, at most hearWait, for the lines before it to be heard on their
// streams, and is heard right after them.
type ear struct {
	rec  *timeline.Recorder
	from timeline.Side // the side whose lines it hears

	mu sync.Mutex
	// news is closed, and replaced, each time a line is heard.
	news chan struct{}
}

func newEar(rec *timeline.Recorder, from timeline.Side) *ear {
	return &ear{rec: rec, from: from, news: make(chan struct{})}
}

// hear records that the whole of text has been read. It returns the
// message it was, or the recorder's error if it is still not the next one
// after hearWait: a line that was never sent.
func (e *ear) hear(ctx context.Context, text string) (timeline.Message, error) {
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
			wait = time.NewTimer(hearWait)
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
