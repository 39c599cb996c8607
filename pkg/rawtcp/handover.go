package rawtcp

import (
	"bytes"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// handOverWatch finds grandma's record of the call among the bytes that
// arrive on the raw TCP connection, as they cross the link (call.HandOver).
// Past her answer to the upgrade (its head, up to the blank line), the
// stream is lines; her record is the first line that starts with
// wire.RecordPrefix, which no line of the story does, and it took its
// bytes from that prefix through its newline. It keeps how long the line
// under way is and how much of the prefix it matched: nothing of the line
// itself.
type handOverWatch struct {
	// blank is how much of the answer's "\r\n\r\n" the last bytes were; 4
	// once past it, on the lines.
	blank int
	// The line under way: its bytes so far, and how much of the prefix it
	// matched (-1 once it did not).
	line    int64
	matched int
	// handed is the bytes her record's line took, once its newline came.
	handed int64
}

func newHandOverWatch() call.HandOver { return new(handOverWatch) }

// Write follows the stream, byte by byte in the answer's head and a line's
// start, and a run at a time in the rest of a line.
func (w *handOverWatch) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && w.handed == 0 {
		switch {
		case w.blank < 4: // the answer to the upgrade, up to its blank line
			switch c := p[0]; {
			case c == "\r\n\r\n"[w.blank]:
				w.blank++
			case c == '\r':
				w.blank = 1
			default:
				w.blank = 0
			}
			p = p[1:]
		case w.matched >= 0 && w.matched < len(wire.RecordPrefix): // a line's start
			c := p[0]
			p = p[1:]
			w.line++
			switch {
			case c == '\n':
				w.line, w.matched = 0, 0
			case c == wire.RecordPrefix[w.matched]:
				w.matched++
			default:
				w.matched = -1
			}
		default: // the rest of a line, to its newline
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				w.line += int64(len(p))
				p = nil
				continue
			}
			w.line += int64(i + 1)
			p = p[i+1:]
			if w.matched == len(wire.RecordPrefix) {
				w.handed = w.line
			}
			w.line, w.matched = 0, 0
		}
	}
	return n, nil
}

// Bytes returns the bytes her record's line took, newline included, once
// its newline has come; 0 before, or if it did not come on this connection.
func (w *handOverWatch) Bytes() int64 { return w.handed }
