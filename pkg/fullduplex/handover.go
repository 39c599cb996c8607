package fullduplex

import (
	"encoding/binary"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// handOverWatch finds grandma's record of the call among the bytes that
// arrive on the phone's connection, as they cross the link (call.HandOver):
// past the answer to the opening handshake (its headers, up to the blank
// line), it follows her frames one by one (RFC 6455 §5.2: a 2-byte header,
// then 2 or 8 more bytes of length when the second byte's length is 126 or
// 127, then 4 of mask if masked, which a server's never are) and takes the
// frames of the first text message whose payload starts with
// wire.RecordPrefix: each from its first byte to its last, as it arrived.
// Control frames between a message's fragments (a ping) are the
// conversation's. It keeps one frame's header and how much of the prefix
// its payload has matched: nothing of the payload itself.
type handOverWatch struct {
	seen int64 // bytes given to Write so far: the offset of the next one
	// blank is how much of the handshake answer's "\r\n\r\n" the last
	// bytes were; 4 once past it, on the frames.
	blank int
	// The frame under way: where it began, its header so far and its
	// length once known, the payload bytes still to come, and how much of
	// the prefix the payload matched (-1 once it did not).
	start   int64
	head    []byte
	headLen int
	left    int64
	matched int
	// inRecord says the message under way is her record; handed is the
	// bytes of its frames so far, and done says its last frame has come.
	inRecord bool
	handed   int64
	done     bool
}

func newHandOverWatch() call.HandOver { return &handOverWatch{head: make([]byte, 0, 14)} }

const (
	opContinuation = 0x0
	opText         = 0x1
	opClose        = 0x8 // the first control opcode
)

// Write follows the stream, byte by byte in the headers and a run at a
// time in payloads.
func (w *handOverWatch) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && !w.done {
		switch {
		case w.blank < 4: // the handshake's answer, up to its blank line
			switch c := p[0]; {
			case c == "\r\n\r\n"[w.blank]:
				w.blank++
			case c == '\r':
				w.blank = 1
			default:
				w.blank = 0
			}
			w.seen++
			p = p[1:]
			w.start = w.seen // the first frame begins after it
		case w.headLen == 0 || len(w.head) < w.headLen: // a frame's header
			w.head = append(w.head, p[0])
			w.seen++
			p = p[1:]
			if len(w.head) == 2 {
				w.headLen = 2
				switch w.head[1] & 0x7f {
				case 126:
					w.headLen += 2
				case 127:
					w.headLen += 8
				}
				if w.head[1]&0x80 != 0 {
					w.headLen += 4 // masked: never from a server, but skip it right
				}
			}
			if len(w.head) == w.headLen {
				switch l := int64(w.head[1] & 0x7f); l {
				case 126:
					w.left = int64(binary.BigEndian.Uint16(w.head[2:4]))
				case 127:
					w.left = int64(binary.BigEndian.Uint64(w.head[2:10]))
				default:
					w.left = l
				}
				if w.left < 0 { // not a WebSocket: give up
					w.done, w.handed = true, 0
					return n, nil
				}
				if w.left == 0 {
					w.frameEnd()
				}
			}
		default: // the payload
			k := int(min(w.left, int64(len(p))))
			for _, c := range p[:k] {
				if w.matched < 0 || w.matched == len(wire.RecordPrefix) {
					break
				}
				if c == wire.RecordPrefix[w.matched] {
					w.matched++
				} else {
					w.matched = -1
				}
			}
			w.seen += int64(k)
			w.left -= int64(k)
			p = p[k:]
			if w.left == 0 {
				w.frameEnd()
			}
		}
	}
	return n, nil
}

// frameEnd is called when a frame's last byte has come: a frame of her
// record adds what it took, from its first byte to its last.
func (w *handOverWatch) frameEnd() {
	fin, op := w.head[0]&0x80 != 0, w.head[0]&0x0f
	switch {
	case op >= opClose: // a control frame: the conversation's
	case op == opText:
		w.inRecord = w.matched == len(wire.RecordPrefix)
	case op != opContinuation:
		w.inRecord = false
	}
	if w.inRecord && op < opClose {
		w.handed += w.seen - w.start
		w.done = fin
	}
	w.start, w.head, w.headLen, w.matched = w.seen, w.head[:0], 0, 0
}

// Bytes returns the bytes her record's frames took, once its last frame
// has come; 0 before, or if it did not come on this connection.
func (w *handOverWatch) Bytes() int64 {
	if !w.done {
		return 0
	}
	return w.handed
}
