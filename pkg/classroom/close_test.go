package classroom_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/pkg/classroom"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// WebSocket opcodes (RFC 6455 §5.2).
const (
	opText  = 0x1
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xa
)

// rawPhone is a phone call on a bare TCP connection: the opening handshake
// written by hand, then whatever frames a test writes, so that it can send
// what no library client would (a close frame without a status, a text
// frame that is not UTF-8) and see every byte of grandma's answer.
type rawPhone struct {
	conn net.Conn
	r    *bufio.Reader
}

// dialRaw opens a phone call to the server at base for script s, its
// opening handshake naming host (the server's own address if "").
func dialRaw(t *testing.T, base string, s story.Script, host string) *rawPhone {
	t.Helper()
	addr := strings.TrimPrefix(base, "http://")
	if host == "" {
		host = addr
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	fmt.Fprintf(conn, "GET %s?%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
		fullduplex.Path, wire.ScriptQuery(s).Encode(), host, base64.StdEncoding.EncodeToString(key))
	p := &rawPhone{conn: conn, r: bufio.NewReader(conn)}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(p.r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("opening handshake: %s, want 101", resp.Status)
	}
	return p
}

// send writes one frame, masked as a client's must be, and final.
func (p *rawPhone) send(t *testing.T, op byte, payload []byte) {
	t.Helper()
	if len(payload) > 125 {
		t.Fatalf("a frame of %d bytes: the raw client writes only short ones", len(payload))
	}
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	frame := append([]byte{0x80 | op, 0x80 | byte(len(payload))}, mask[:]...)
	for i, b := range payload {
		frame = append(frame, b^mask[i%4])
	}
	if _, err := p.conn.Write(frame); err != nil {
		t.Fatal(err)
	}
}

// closePayload is a close frame's payload: a status code and a reason.
func closePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// next reads one frame from grandma (never masked), answering pings, until
// within; io.EOF once she has closed the connection.
func (p *rawPhone) next(t *testing.T, within time.Duration) (op byte, payload []byte, err error) {
	t.Helper()
	_ = p.conn.SetReadDeadline(time.Now().Add(within))
	for {
		var head [2]byte
		if _, err := io.ReadFull(p.r, head[:]); err != nil {
			return 0, nil, err
		}
		n := int(head[1] & 0x7f)
		switch n {
		case 126:
			var l [2]byte
			if _, err := io.ReadFull(p.r, l[:]); err != nil {
				return 0, nil, err
			}
			n = int(binary.BigEndian.Uint16(l[:]))
		case 127:
			var l [8]byte
			if _, err := io.ReadFull(p.r, l[:]); err != nil {
				return 0, nil, err
			}
			n = int(binary.BigEndian.Uint64(l[:]))
		}
		payload = make([]byte, n)
		if _, err := io.ReadFull(p.r, payload); err != nil {
			return 0, nil, err
		}
		if op = head[0] & 0x0f; op == opPing {
			p.send(t, opPong, payload)
			continue
		}
		return op, payload, nil
	}
}

// closeFrame reads grandma's frames until her close frame, and returns its
// payload, and how long it took.
func (p *rawPhone) closeFrame(t *testing.T, within time.Duration) ([]byte, time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		op, payload, err := p.next(t, within)
		if err != nil {
			t.Fatalf("no close frame from grandma: %v", err)
		}
		if op == opClose {
			return payload, time.Since(start)
		}
	}
}

// closedWithin says whether grandma closes the connection (EOF) within d,
// with nothing more on it.
func (p *rawPhone) closedWithin(t *testing.T, d time.Duration) error {
	t.Helper()
	op, payload, err := p.next(t, d)
	switch {
	case err == io.EOF || (err != nil && strings.Contains(err.Error(), "reset")):
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("a frame (opcode %d, %q) after the closing handshake", op, payload)
}

// TestCloseFramesAnswered: every close frame a caller sends is answered
// (RFC 6455 §5.5.1) with a close frame of its own code, whatever the code
// and reason, or with none for a frame that had none; the goodbye with
// grandma's farewell. Then grandma closes the connection, and logs how the
// call ended.
func TestCloseFramesAnswered(t *testing.T) {
	logs := &callLog{}
	base := start(t, classroom.Config{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	s := fastScript(t)
	slow := calltest.Script(t, story.Options{Pace: 500 * time.Millisecond})
	for i, tc := range []struct {
		name   string
		script story.Script
		// question says the question first, and waits for the story's
		// first sentence.
		question bool
		send     []byte
		want     []byte
		outcome  string
	}{
		{"1000 without a reason, at once", s, false, closePayload(1000, ""), closePayload(1000, ""), "dropped: the grandchild closed with 1000 "},
		{"1000 with a reason not the goodbye", s, false, closePayload(1000, "bye"), closePayload(1000, ""), "dropped: the grandchild closed with 1000 bye"},
		{"1001 going away, mid-story", slow, true, closePayload(1001, "tab closed"), closePayload(1001, ""), "dropped: the grandchild closed with 1001 tab closed"},
		{"4000, an application's code", slow, true, closePayload(4000, ""), closePayload(4000, ""), "dropped: the grandchild closed with 4000 "},
		{"no status code", slow, true, nil, nil, "dropped: the grandchild closed with 1005 "},
		{"goodbye as the reason", s, true, closePayload(1000, s.Goodbye), closePayload(1000, s.Farewell), "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := dialRaw(t, base, tc.script, "")
			if tc.question {
				p.send(t, opText, []byte(tc.script.Question))
				if op, _, err := p.next(t, 5*time.Second); err != nil || op != opText {
					t.Fatalf("the story's first sentence: opcode %d, %v", op, err)
				}
			}
			p.send(t, opClose, tc.send)
			got, took := p.closeFrame(t, 5*time.Second)
			if !bytes.Equal(got, tc.want) {
				t.Errorf("grandma answered a close frame of %q with one of %q; want %q", tc.send, got, tc.want)
			}
			t.Logf("answered in %v", took)
			if err := p.closedWithin(t, 2*time.Second); err != nil {
				t.Errorf("after the closing handshake: %v; want grandma to close the connection", err)
			}
			if e := logs.wait(t, "phone", i+1, 5*time.Second)[i]; e.Outcome != tc.outcome {
				t.Errorf("grandma logged the call as %q, want %q", e.Outcome, tc.outcome)
			}
		})
	}
}

// TestHerCloseAwaitsTheCallers: when grandma closes first (here, her
// farewell to a goodbye said as a text message, as a browser says it), she
// waits for the caller's close frame before closing the connection, and
// for at most CloseWait when none comes.
func TestHerCloseAwaitsTheCallers(t *testing.T) {
	base := start(t, classroom.Config{})
	s := fastScript(t)
	for _, answers := range []bool{true, false} {
		p := dialRaw(t, base, s, "")
		p.send(t, opText, []byte(s.Question))
		time.Sleep(s.GoodbyeAt)
		p.send(t, opText, []byte(s.Goodbye))
		got, _ := p.closeFrame(t, 5*time.Second)
		if want := closePayload(1000, s.Farewell); !bytes.Equal(got, want) {
			t.Errorf("grandma closed with %q, want %q", got, want)
		}
		if answers {
			p.send(t, opClose, got)
		}
		closing := time.Now()
		if err := p.closedWithin(t, classroom.CloseWait+2*time.Second); err != nil {
			t.Errorf("caller answers %v: %v", answers, err)
		}
		took := time.Since(closing)
		t.Logf("caller answers %v: grandma closed the connection %v after her close frame", answers, took)
		if !answers && took < classroom.CloseWait-50*time.Millisecond {
			t.Errorf("grandma closed the connection %v after her close frame, without waiting %v for the caller's", took, classroom.CloseWait)
		}
	}
}

// TestInvalidUTF8: a text frame that is not UTF-8 is refused with 1007
// (invalid frame payload data, RFC 6455 §8.1), by raw bytes on the wire.
func TestInvalidUTF8(t *testing.T) {
	base := start(t, classroom.Config{})
	for _, payload := range [][]byte{{0xff, 0xfe, '{'}, []byte("Grandma\xc3"), {0xed, 0xa0, 0x80}} { // a bad byte, a cut sequence, a surrogate
		p := dialRaw(t, base, fastScript(t), "")
		p.send(t, opText, payload)
		got, _ := p.closeFrame(t, 5*time.Second)
		if len(got) < 2 || binary.BigEndian.Uint16(got) != 1007 {
			t.Errorf("a text frame of %q: closed with %q, want code 1007", payload, got)
		}
	}
	normalCall(t, base)
}
