// Package rawtcp plays the call on bare TCP: one connection, and no
// protocol at all beyond lines that end in a newline. Either side writes a
// line whenever it likes; TCP carries both directions at once, because a
// TCP connection always could. Duplex is a property of a protocol's rules,
// not of the cable.
//
// Each side has exactly two goroutines on the connection, as on the phone:
// one that only reads (it hears) and one that only writes (it speaks). The
// call ends with a half-close: after the grandchild's goodbye grandma says
// her farewell and shuts down her writing side (CloseWrite), so that the
// grandchild reads it to the end of the stream, and both close.
//
// Every wait on the timeline is measured: a line is sent when its side's
// writer starts writing it, and heard when its side's reader has read the
// whole line, newline included.
package rawtcp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

const (
	// writeWait bounds one write; a peer that stops reading is dropped.
	writeWait = 5 * time.Second
	// readWait bounds the silence between two lines from the peer, beyond
	// the script's own silences and one round trip of the link.
	readWait = 10 * time.Second
	// closeWait bounds how long a side that has said its last line waits
	// for the peer's end of the stream before closing anyway; one round
	// trip of the emulated link is added to it.
	closeWait = time.Second
)

// Mode is the raw TCP call: what it is, and its two roles. A line longer
// than call.MaxLine ends the call: with no protocol, the only thing a side
// can do about bad input is hang up.
func Mode() call.Mode {
	return call.Mode{
		Mode: result.Mode{
			Key:            "tcp",
			Name:           "raw TCP",
			Transport:      "TCP, one connection, newline-delimited lines, no protocol",
			ServerMayStart: true, // either side may write first
		},
		Title: func(call.Config) string { return "RAW TCP: one connection, lines both ways, no protocol" },
		Help: call.Help{
			Short: "Raw TCP: lines both ways on one connection, no protocol at all",
			Long: `tcp plays the same call on one bare TCP connection: each line is its
text and a newline, and either side writes whenever it likes. There is no
protocol on top, no handshake, no framing, no request and no answer.

It is the baseline of what the wire itself allows. TCP has always carried
both directions at once: grandma's story streams down while the
grandchild's interruption travels up, and her afterthought is simply said.
A walkie-talkie is what a protocol's rules make of it, not the cable.
The call ends with a half-close: after her farewell grandma shuts her
side of the connection, so that the grandchild hears it to the end.`,
			Example: `  duplexdemo tcp
  duplexdemo tcp --latency 150ms --pace 400ms
  duplexdemo tcp --speed 4 --color never
  duplexdemo tcp --json`,
		},
		Local: local,
	}
}

// local sets up a call in this process. The question is wanted at once,
// and waits only for the TCP handshake: with no protocol on top, there is
// nothing else to open.
func local(s *call.Session) call.Roles {
	g := &Grandma{
		script:    s.Script,
		rec:       s.Rec,
		readWait:  s.Silence(readWait),
		closeWait: closeWait + s.RoundTrip(),
	}
	kid := &grandchild{
		script:    s.Script,
		rec:       s.Rec,
		dial:      s.DialContext,
		addr:      s.Addr(),
		readWait:  s.Silence(readWait),
		closeWait: closeWait + s.RoundTrip(),
	}
	return call.Roles{Serve: g.Serve, Grandchild: kid.call}
}

// utterance is a line someone wants to say, and the message it was
// recorded as.
type utterance struct {
	id    timeline.MsgID
	label string
	text  string
}

// errLineTooLong: the peer sent a line longer than call.MaxLine.
var errLineTooLong = fmt.Errorf("a line over %d bytes", call.MaxLine)

// newLineReader returns a reader of conn's lines, for readLine.
func newLineReader(conn net.Conn) *bufio.Reader {
	return bufio.NewReaderSize(conn, call.MaxLine+1) // a longest line and its newline
}

// readLine reads one line and returns it without its newline. A line
// longer than call.MaxLine is errLineTooLong; the stream's end between two
// lines is io.EOF, and within one io.ErrUnexpectedEOF.
func readLine(r *bufio.Reader) (string, error) {
	b, err := r.ReadSlice('\n')
	switch {
	case err == nil:
		return string(b[:len(b)-1]), nil
	case errors.Is(err, bufio.ErrBufferFull):
		return "", errLineTooLong
	case errors.Is(err, io.EOF) && len(b) > 0:
		return "", io.ErrUnexpectedEOF
	}
	return "", err
}

// writeLine writes text and its newline in one write, bounded by
// writeWait. Only a side's writer goroutine may call it.
func writeLine(conn net.Conn, text string) error {
	if strings.ContainsRune(text, '\n') || len(text) > call.MaxLine {
		return fmt.Errorf("%q is not one line of at most %d bytes", text, call.MaxLine)
	}
	if err := conn.SetWriteDeadline(time.Now().Add(writeWait)); err != nil {
		return err
	}
	_, err := conn.Write(append([]byte(text), '\n'))
	return err
}

// closeWrite half-closes conn, if it can: the peer reads what was written,
// then the end of the stream. It returns errors.ErrUnsupported if conn
// cannot (an in-memory pipe, or the emulated link today).
func closeWrite(conn net.Conn) error {
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
