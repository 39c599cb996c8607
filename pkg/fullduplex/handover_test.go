package fullduplex

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// frame encodes one WebSocket frame as RFC 6455 §5.2 lays it out, masked
// with a zero key if masked (as a client's would be).
func frame(fin bool, op byte, payload []byte, masked bool) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	var mask byte
	if masked {
		mask = 0x80
	}
	f := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		f = append(f, mask|byte(n))
	case n < 1<<16:
		f = append(f, mask|126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	default:
		f = append(f, mask|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	if masked {
		f = append(f, 0, 0, 0, 0)
	}
	return append(f, payload...)
}

// record returns a record-like payload of n bytes, starting with the prefix.
func record(n int) []byte {
	return []byte(wire.RecordPrefix + strings.Repeat("x", n-len(wire.RecordPrefix)))
}

const handshakeAnswer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"

// TestHandOverWatch: the watch finds the frames of grandma's record in a
// phone connection's bytes, whatever the record's length (each of the
// three length encodings), however the bytes arrive (at once, byte by
// byte, in random runs), and nothing when the record did not come whole.
func TestHandOverWatch(t *testing.T) {
	text := func(s string) []byte { return frame(true, opText, []byte(s), false) }
	ping := frame(true, 0x9, nil, false)
	closing := frame(true, opClose, []byte{0x03, 0xe8, 'b', 'y', 'e'}, false)
	for _, tc := range []struct {
		name   string
		frames [][]byte
		record []int // the frames that carry her record, by index
	}{
		{"short record", [][]byte{text("Once upon a time"), ping, frame(true, opText, record(100), false), closing}, []int{2}},
		{"record of 126 to 65535 bytes", [][]byte{text("Once upon a time"), frame(true, opText, record(3000), false), closing}, []int{1}},
		{"record of 65536 bytes or more", [][]byte{text("Once"), frame(true, opText, record(70000), false), closing}, []int{1}},
		{"record in fragments, a ping between", [][]byte{
			text("Once"), frame(false, opText, record(200)[:50], false), ping, frame(false, opContinuation, record(200)[50:120], false),
			frame(true, opContinuation, record(200)[120:], false), closing}, []int{1, 3, 4}},
		{"a masked frame before", [][]byte{frame(true, opText, []byte("hello"), true), frame(true, opText, record(40), false)}, []int{1}},
		{"a line almost like a record", [][]byte{text(wire.RecordPrefix[:5] + "nope"), text(`{"protocol"`), closing}, nil},
		{"no record", [][]byte{text("Once upon a time"), closing}, nil},
	} {
		var stream []byte
		stream = append(stream, handshakeAnswer...)
		want := 0
		for i, f := range tc.frames {
			stream = append(stream, f...)
			for _, r := range tc.record {
				if r == i {
					want += len(f)
				}
			}
		}
		for _, split := range []string{"at once", "byte by byte", "random runs"} {
			w := newHandOverWatch()
			switch split {
			case "at once":
				w.Write(stream)
			case "byte by byte":
				for i := range stream {
					w.Write(stream[i : i+1])
				}
			case "random runs":
				for rest := stream; len(rest) > 0; {
					n := min(1+rand.IntN(300), len(rest))
					w.Write(rest[:n])
					rest = rest[n:]
				}
			}
			if got := w.Bytes(); got != int64(want) {
				t.Errorf("%s, %s: the hand-over took %d bytes; want %d", tc.name, split, got, want)
			}
		}
		if want > 0 { // cut short by a byte, the record never came whole
			w := newHandOverWatch()
			last := tc.frames[tc.record[len(tc.record)-1]]
			cut := bytes.Index(stream, last) + len(last) - 1
			w.Write(stream[:cut])
			if got := w.Bytes(); got != 0 {
				t.Errorf("%s, its last byte missing: the hand-over took %d bytes; want 0", tc.name, got)
			}
		}
	}
}
