package h1full

import (
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// handOverWatch finds grandma's record of the call among the bytes that
// arrive on the call's connection, as they cross the link (call.HandOver).
// They are one answer: its head, up to the blank line, then its body in
// chunks (RFC 9112 §7.1: each chunk its size in hex, maybe an extension,
// and CRLF, its data, CRLF), each of her lines one chunk, as she flushes
// them one at a time. Her record is the last line: it takes the chunks
// from the one whose data starts with wire.RecordPrefix to the one whose
// data holds the line's newline, each from its size line to its closing
// CRLF. The last chunk ("0", with any trailers) is the conversation's. It
// keeps one chunk's size line and how far its data has matched: nothing of
// the data itself.
type handOverWatch struct {
	// blank is how much of the head's "\r\n\r\n" the last bytes were; 4
	// once past it, in the body.
	blank int
	// The chunk under way: its size line so far (sizing says it is not
	// over), its data bytes still to come and those seen, how much of the
	// prefix its data matched (-1 once it did not), whether its data held
	// a newline, its bytes so far, and its closing CRLF still to come.
	sizing  bool
	line    []byte
	left    int64
	data    int
	matched int
	newline bool
	size    int64
	crlf    int

	inRecord bool  // the chunks under way are her record's
	handed   int64 // the bytes of her record's chunks so far
	done     bool  // her record's last chunk has come, or there is none
}

func newHandOverWatch() call.HandOver { return &handOverWatch{sizing: true} }

// maxSizeLine bounds a chunk's size line: net/http writes a few hex digits.
const maxSizeLine = 64

// Write follows the answer, byte by byte in the head and size lines and a
// run at a time in chunks' data.
func (w *handOverWatch) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && !w.done {
		switch {
		case w.blank < 4: // the answer's head, up to its blank line
			switch c := p[0]; {
			case c == "\r\n\r\n"[w.blank]:
				w.blank++
			case c == '\r':
				w.blank = 1
			default:
				w.blank = 0
			}
			p = p[1:]
		case w.sizing: // a chunk's size line
			w.line = append(w.line, p[0])
			w.size++
			p = p[1:]
			if len(w.line) > maxSizeLine {
				w.done, w.handed = true, 0 // not chunks: give up
				return n, nil
			}
			if w.line[len(w.line)-1] == '\n' {
				w.startChunk()
			}
		case w.left > 0: // a chunk's data
			k := int(min(w.left, int64(len(p))))
			for _, c := range p[:k] {
				if w.matched >= 0 && w.matched < len(wire.RecordPrefix) && w.data == w.matched {
					if c == wire.RecordPrefix[w.matched] {
						w.matched++
					} else {
						w.matched = -1
					}
				}
				if c == '\n' {
					w.newline = true
				}
				w.data++
			}
			w.left -= int64(k)
			w.size += int64(k)
			p = p[k:]
		default: // the CRLF that closes a chunk
			w.size++
			p = p[1:]
			if w.crlf--; w.crlf == 0 {
				w.chunkEnd()
			}
		}
	}
	return n, nil
}

// startChunk reads the size line just ended: the last chunk ends the
// watch, any other's data follows.
func (w *handOverWatch) startChunk() {
	var size int64
	for _, c := range w.line {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			d = 0xff
		}
		if d == 0xff {
			break // the end of the digits: an extension, or CRLF
		}
		size = size<<4 | int64(d)
		if size > 1<<30 {
			w.done, w.handed = true, 0 // not chunks of hers: give up
			return
		}
	}
	if size == 0 {
		w.done, w.handed = true, 0 // the answer ended: no record came
		return
	}
	w.sizing, w.line = false, w.line[:0]
	w.left, w.data, w.matched, w.newline, w.crlf = size, 0, 0, false, 2
}

// chunkEnd is called when a chunk's last byte has come: a chunk of her
// record adds what it took, from its size line to its closing CRLF.
func (w *handOverWatch) chunkEnd() {
	if !w.inRecord && w.matched == len(wire.RecordPrefix) {
		w.inRecord = true
	}
	if w.inRecord {
		w.handed += w.size
		w.done = w.newline
	}
	w.sizing, w.size = true, 0
}

// Bytes returns the bytes her record's chunks took, once its last chunk has
// come; 0 before, or if it did not come on this connection.
func (w *handOverWatch) Bytes() int64 {
	if !w.done {
		return 0
	}
	return w.handed
}
