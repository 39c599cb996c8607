package rawtcp

import (
	"bytes"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// switching is grandma's answer to the upgrade, as Switch writes it.
const switching = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + Protocol + "\r\n" + wire.HeaderVersion + ": 1\r\n\r\n"

// recordLine returns a record-like line of n bytes and its newline.
func recordLine(n int) string {
	return wire.RecordPrefix + strings.Repeat("x", n-len(wire.RecordPrefix)) + "\n"
}

// TestHandOverWatch: the watch finds the line of grandma's record in a raw
// TCP connection's bytes, whatever its length and however the bytes
// arrive (at once, byte by byte, in random runs), and nothing when it did
// not come whole, or when only something like it came.
func TestHandOverWatch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stream string
		record string // the line that carried her record, or ""
	}{
		{"short record", switching + "Once upon a time\nThe end\nBye, dear!\n" + recordLine(100), recordLine(100)},
		{"record longer than a line may be", switching + "Once\nBye, dear!\n" + recordLine(wire.MaxRecord), recordLine(wire.MaxRecord)},
		{"a header like a record", "HTTP/1.1 101 Switching Protocols\r\n" + wire.RecordPrefix + ": x\r\n\r\nOnce\n" + recordLine(60), recordLine(60)},
		{"lines almost like a record", switching + wire.RecordPrefix[:5] + "nope\n" + ` {"protocol":1}` + "\nBye\n", ""},
		{"the prefix mid-line", switching + "she said " + wire.RecordPrefix + "1}\n", ""},
		{"no record", switching + "Once upon a time\nBye, dear!\n", ""},
	} {
		for _, split := range []string{"at once", "byte by byte", "random runs"} {
			w := newHandOverWatch()
			switch split {
			case "at once":
				w.Write([]byte(tc.stream))
			case "byte by byte":
				for i := range len(tc.stream) {
					w.Write([]byte(tc.stream[i : i+1]))
				}
			case "random runs":
				for rest := []byte(tc.stream); len(rest) > 0; {
					n := min(1+rand.IntN(300), len(rest))
					w.Write(rest[:n])
					rest = rest[n:]
				}
			}
			if got, want := w.Bytes(), int64(len(tc.record)); got != want {
				t.Errorf("%s, %s: the hand-over took %d bytes; want %d", tc.name, split, got, want)
			}
		}
		if tc.record != "" { // cut short by its newline, the record never came whole
			w := newHandOverWatch()
			w.Write([]byte(strings.TrimSuffix(tc.stream, "\n")))
			if got := w.Bytes(); got != 0 {
				t.Errorf("%s, its newline missing: the hand-over took %d bytes; want 0", tc.name, got)
			}
		}
	}
}

// TestRecordLines: grandma's record goes as one line and comes back whole;
// a line after her farewell that is not her record, or one too long, is
// refused.
func TestRecordLines(t *testing.T) {
	rec := []byte(recordLine(wire.MaxRecord)[:wire.MaxRecord])
	var buf bytes.Buffer
	if err := writeRecord(nopConn{&buf}, rec); err != nil {
		t.Fatal(err)
	}
	got, err := readRecord(newLineReader(nopConn{&buf}, call.MaxLine))
	if err != nil || !bytes.Equal(got, rec) {
		t.Errorf("read back %d bytes, %v; want the %d written", len(got), err, len(rec))
	}
	for _, tc := range []struct{ name, line, says string }{
		{"not a record", "Once upon a time\n", "after her farewell"},
		{"too long", recordLine(wire.MaxRecord + 1), "over"},
		{"cut short", wire.RecordPrefix + "1", "unexpected EOF"},
	} {
		_, err := readRecord(newLineReader(nopConn{bytes.NewBufferString(tc.line)}, call.MaxLine))
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v; want an error that says %q", tc.name, err, tc.says)
		}
	}
	if err := writeRecord(nopConn{&buf}, []byte("Once upon a time")); err == nil {
		t.Error("a line that is not a record was written as one")
	}
}

// nopConn is a connection that reads and writes a buffer.
type nopConn struct{ *bytes.Buffer }

func (nopConn) Close() error                     { return nil }
func (nopConn) LocalAddr() net.Addr              { return nil }
func (nopConn) RemoteAddr() net.Addr             { return nil }
func (nopConn) SetDeadline(time.Time) error      { return nil }
func (nopConn) SetReadDeadline(time.Time) error  { return nil }
func (nopConn) SetWriteDeadline(time.Time) error { return nil }
