package h2

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// ear records the lines one side hears, on any stream of the connection,
// in the order they crossed it.
//
// HTTP/2 hands each stream's bytes to a reader of its own: the frames of
// two streams arrive in order, but the goroutines reading them wake in any
// order, so a line on one stream may be read a moment before a line that
// crossed before it on another. The recorder takes a side's lines in the
// order they were sent, which is the order they crossed (each side writes
// one line at a time). So a line that is not the next one waits, at most
// hearWait, for the lines before it to be heard on their streams, and is
// heard right after them.
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

// errLineTooLong: a line longer than call.MaxLine.
var errLineTooLong = fmt.Errorf("a line may be at most %d bytes", call.MaxLine)

// newLineReader reads lines of at most call.MaxLine bytes from r.
func newLineReader(r io.Reader) *bufio.Reader { return newLineReaderSize(r, call.MaxLine) }

// newLineReaderSize reads lines of at most maxLine bytes from r: the
// grandchild's, whose photo may be longer than call.MaxLine
// (story.Script.MaxGrandchildLine).
func newLineReaderSize(r io.Reader, maxLine int) *bufio.Reader {
	return bufio.NewReaderSize(r, maxLine+1) // the line and its newline
}

// readLine reads one line from br, without its newline. A stream that ends
// between lines gives io.EOF, one that ends mid-line io.ErrUnexpectedEOF,
// and a line over call.MaxLine errLineTooLong.
func readLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadSlice('\n')
	switch {
	case err == nil:
		return string(line[:len(line)-1]), nil
	case errors.Is(err, bufio.ErrBufferFull):
		return "", errLineTooLong
	case err == io.EOF && len(line) > 0:
		return "", io.ErrUnexpectedEOF
	}
	return "", err
}
