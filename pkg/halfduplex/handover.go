package halfduplex

import (
	"bytes"
	"strconv"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// handOverWindow is how much of a connection's latest bytes a
// handOverWatch keeps: her record, at its largest, and room to spare for
// its chunk's framing and the end of the answer after it.
const handOverWindow = wire.MaxRecord + 4<<10

// handOverWatch finds grandma's record of the call among the bytes that
// arrive on a walkie connection, as they cross the link (call.HandOver).
// Her record is the last line of her answer to the goodbye, which is
// chunked (RFC 9112 §7.1: each chunk its size in hex and CRLF, its data,
// CRLF), so her last chunk but the terminating "0" one carries it, and
// nothing comes on the connection after that answer. It keeps the last
// handOverWindow bytes of the stream, and the offset they start at.
type handOverWatch struct {
	seen int64  // bytes given to Write so far
	tail []byte // the last of them: at most 2×handOverWindow
}

func newHandOverWatch() call.HandOver { return new(handOverWatch) }

// Write keeps p, and drops what is older than handOverWindow once twice
// that has piled up.
func (w *handOverWatch) Write(p []byte) (int, error) {
	w.seen += int64(len(p))
	w.tail = append(w.tail, p...)
	if len(w.tail) > 2*handOverWindow {
		w.tail = w.tail[:copy(w.tail, w.tail[len(w.tail)-handOverWindow:])]
	}
	return len(p), nil
}

// Bytes returns the bytes of the chunks that carried her record, as they
// arrived: from the size line of the chunk whose data starts with
// wire.RecordPrefix, through the CRLF that closes the chunk in which her
// line's newline came (the same chunk, as net/http writes it). 0 if the
// stream holds no such chunk, complete.
func (w *handOverWatch) Bytes() int64 {
	for at := bytes.LastIndex(w.tail, []byte(wire.RecordPrefix)); at >= 0; at = bytes.LastIndex(w.tail[:at], []byte(wire.RecordPrefix)) {
		// The chunk-size line right before it: after the CRLF that ends
		// the chunk (or the headers) before, up to its own CRLF.
		if !bytes.HasSuffix(w.tail[:at], []byte("\r\n")) {
			continue
		}
		start := bytes.LastIndex(w.tail[:at-2], []byte("\r\n"))
		if start < 0 {
			continue
		}
		start += 2
		if _, ok := chunkSize(w.tail[start : at-2]); !ok {
			continue
		}
		if end, ok := lineChunksEnd(w.tail[start:]); ok {
			return int64(end)
		}
	}
	return 0
}

// lineChunksEnd follows the chunks at the start of b until one whose data
// holds a newline, and returns where that chunk's closing CRLF ends; false
// if b ends first or is not chunks.
func lineChunksEnd(b []byte) (int, bool) {
	off := 0
	for {
		eol := bytes.Index(b[off:], []byte("\r\n"))
		if eol < 0 {
			return 0, false
		}
		size, ok := chunkSize(b[off : off+eol])
		if !ok || size == 0 {
			return 0, false
		}
		data := off + eol + 2
		end := data + size + 2
		if end > len(b) || !bytes.Equal(b[end-2:end], []byte("\r\n")) {
			return 0, false
		}
		if bytes.IndexByte(b[data:data+size], '\n') >= 0 {
			return end, true
		}
		off = end
	}
}

// chunkSize reads a chunk-size line (without its CRLF): hex digits, and
// any chunk extension after a semicolon.
func chunkSize(line []byte) (int, bool) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	if len(line) == 0 || len(line) > 8 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(line), 16, 32)
	if err != nil || n > handOverWindow {
		return 0, false
	}
	return int(n), true
}
