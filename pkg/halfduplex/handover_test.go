package halfduplex

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// chunk encodes data as one chunk of a chunked answer (RFC 9112 §7.1), as
// net/http writes it.
func chunk(data string) string { return fmt.Sprintf("%x\r\n%s\r\n", len(data), data) }

// answer is a chunked HTTP answer carrying chunks.
func answer(chunks ...string) string {
	return "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Join(chunks, "") + "0\r\n\r\n"
}

// record returns a record-like line of n bytes, starting with the prefix,
// with its newline.
func record(n int) string {
	return wire.RecordPrefix + strings.Repeat("x", n-len(wire.RecordPrefix)) + "\n"
}

// TestHandOverWatch: the watch finds the chunk of grandma's record in a
// walkie connection's bytes, however long the record and whatever came
// before it, however the bytes arrive (at once, byte by byte, in random
// runs), keeping only its window; and nothing when the record did not
// come whole.
func TestHandOverWatch(t *testing.T) {
	story := answer(chunk("Once upon a time\n"), chunk("there was a fair.\n"))
	long := answer(strings.Repeat(chunk(strings.Repeat("la ", 300)+"\n"), 300)) // ~270 KB, far over the window
	for _, tc := range []struct {
		name, before string
		carrier      []string // the chunks that carry her record
		after        string
	}{
		{"short record", story + answer(chunk("Why?\n")), []string{chunk(record(100))}, ""},
		{"long record", story, []string{chunk(record(wire.MaxRecord))}, ""},
		{"long story before", long, []string{chunk(record(3000))}, ""},
		{"record in two chunks", story, []string{chunk(record(500)[:200]), chunk(record(500)[200:])}, ""},
		{"no record", story + answer(chunk("Bye!\n")), nil, ""},
		{"a line almost like a record", story, nil, chunk(`{"protocol"` + "\n")},
	} {
		var carried strings.Builder
		for _, c := range tc.carrier {
			carried.WriteString(c)
		}
		goodbye := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk("Bye, dear!\n") + tc.after + carried.String() + "0\r\n\r\n"
		stream := []byte(tc.before + goodbye)
		want := int64(carried.Len())
		for _, split := range []string{"at once", "byte by byte", "random runs"} {
			w := newHandOverWatch().(*handOverWatch)
			switch split {
			case "at once":
				w.Write(stream)
			case "byte by byte":
				for i := range stream {
					w.Write(stream[i : i+1])
				}
			case "random runs":
				for rest := stream; len(rest) > 0; {
					n := min(1+rand.IntN(readSize), len(rest))
					w.Write(rest[:n])
					rest = rest[n:]
				}
			}
			if got := w.Bytes(); got != want {
				t.Errorf("%s, %s: the hand-over took %d bytes; want %d", tc.name, split, got, want)
			}
			if len(w.tail) > 2*handOverWindow {
				t.Errorf("%s, %s: the watch keeps %d bytes; want at most %d", tc.name, split, len(w.tail), 2*handOverWindow)
			}
		}
		if want > 0 { // cut short by a byte, the record never came whole
			w := newHandOverWatch()
			w.Write(stream[:len(stream)-len("0\r\n\r\n")-1])
			if got := w.Bytes(); got != 0 {
				t.Errorf("%s, its last byte missing: the hand-over took %d bytes; want 0", tc.name, got)
			}
		}
	}
}

// readSize is the most one read hands the watch in these tests.
const readSize = 32 << 10
