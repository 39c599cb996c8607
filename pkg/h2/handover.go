package h2

import (
	"encoding/binary"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// handOverWatch finds grandma's record of the call among the bytes that
// arrive on the call's HTTP/2 connection, as they cross the link
// (call.HandOver). Everything grandma's server sends is frames (RFC 9113
// §4.1: a 9-byte header, its payload's length in the first 3 bytes, its
// type, flags and stream after), her SETTINGS first. Her record is the last
// line of the call's stream: it takes the DATA frames of one stream from
// the first whose data starts with wire.RecordPrefix to the first whose
// data holds the line's newline, each from its first byte to its last, as
// it arrived. Her lines are flushed one at a time, so her record's first
// frame starts with it. Frames of other streams, and the end of the call's
// stream after it (an empty DATA frame or her trailers), are the
// conversation's. It keeps one frame's header and how far its data has
// matched: nothing of the data itself.
type handOverWatch struct {
	head    []byte // the frame under way's header, up to 9 bytes
	left    int    // its payload bytes still to come
	size    int64  // its size, header included
	pad     int    // its padding, once known (PADDED); -1 until then
	data    int    // its data bytes seen so far (padding excluded)
	matched int    // how much of the prefix its data matched; -1 once it did not
	newline bool   // its data held a newline

	stream uint32 // the stream of her record, once found
	handed int64  // the bytes of its frames so far
	done   bool   // its last frame has come
}

func newHandOverWatch() call.HandOver { return &handOverWatch{head: make([]byte, 0, frameHeaderLen)} }

const (
	frameHeaderLen = 9
	frameData      = 0x0
	flagPadded     = 0x8
)

// Write follows the frames, byte by byte in headers and a run at a time in
// payloads.
func (w *handOverWatch) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && !w.done {
		if len(w.head) < frameHeaderLen {
			w.head = append(w.head, p[0])
			p = p[1:]
			if len(w.head) == frameHeaderLen {
				w.left = int(w.head[0])<<16 | int(w.head[1])<<8 | int(w.head[2])
				w.size = int64(frameHeaderLen + w.left)
				w.pad, w.data, w.matched, w.newline = -1, 0, 0, false
				if w.head[4]&flagPadded == 0 {
					w.pad = 0
				}
				if w.left == 0 {
					w.frameEnd()
				}
			}
			continue
		}
		if w.pad < 0 { // a padded frame's first payload byte is its padding's length
			w.pad = int(p[0])
			p = p[1:]
			w.left--
		} else {
			k := min(w.left, len(p))
			w.look(p[:k])
			p = p[k:]
			w.left -= k
		}
		if w.left == 0 {
			w.frameEnd()
		}
	}
	return n, nil
}

// look looks at a run of a DATA frame's payload: its data, then its
// padding.
func (w *handOverWatch) look(run []byte) {
	if w.head[3] != frameData {
		return
	}
	// The padding is the payload's last pad bytes: what is left of the
	// payload after this run tells how much of the run is data.
	dataLeft := max(w.left-w.pad, 0)
	run = run[:min(len(run), dataLeft)]
	for _, c := range run {
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
}

// frameEnd is called when a frame's last byte has come: a DATA frame of
// her record adds what it took, from its first byte to its last.
func (w *handOverWatch) frameEnd() {
	stream := binary.BigEndian.Uint32(w.head[5:9]) &^ (1 << 31)
	if w.head[3] == frameData {
		switch {
		case w.stream == 0 && w.matched == len(wire.RecordPrefix):
			w.stream = stream
			fallthrough
		case w.stream != 0 && stream == w.stream:
			w.handed += w.size
			w.done = w.newline
		}
	}
	w.head = w.head[:0]
}

// Bytes returns the bytes her record's frames took, once its last frame
// has come; 0 before, or if it did not come on this connection.
func (w *handOverWatch) Bytes() int64 {
	if !w.done {
		return 0
	}
	return w.handed
}
