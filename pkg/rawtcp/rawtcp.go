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
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
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
	// upgradeWait bounds, for a grandma elsewhere, asking her to switch the
	// connection to lines and reading her answer, beyond one round trip of
	// the emulated link.
	upgradeWait = 5 * time.Second
	// remoteSlack multiplies the upgrade's and the goodbye's bounds for a
	// grandma elsewhere: a classroom server may be busy with hundreds of
	// calls, and hands over her record after her farewell.
	remoteSlack = 5
)

// Mode is the raw TCP call: what it is, and its two roles. A line longer
// than call.MaxLine ends the call (from the grandchild, longer than her
// photo, if she sends one): with no protocol, the only thing a side can do
// about bad input is hang up. The photo is one more line on the one
// connection: the interruption, written after it, crosses behind it.
func Mode() call.Mode {
	return call.Mode{
		Mode: result.Mode{
			Key:            "tcp",
			Name:           "raw TCP",
			Transport:      "TCP, one connection, newline-delimited lines, no protocol",
			ServerMayStart: true, // either side may write first
			Note:           "A web page cannot open a raw TCP socket: this is the wire's own duplex, beneath every protocol in this lesson.",
		},
		Photo: true, // grandma reads a line as long as the photo
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
side of the connection, so that the grandchild hears it to the end.

Against duplexdemo serve (--server), which serves everything on one
port, the connection must first be asked for: one HTTP/1.1 request that
asks to switch it to lines (Upgrade: duplexdemo-lines), answered
101 Switching Protocols. So a call there costs the TCP handshake and
that round trip before the first line; in this process, the handshake
alone. After the 101 nothing but lines crosses, as here.`,
			Example: `  duplexdemo tcp
  duplexdemo tcp --latency 150ms --pace 400ms
  duplexdemo tcp --speed 4 --color never
  duplexdemo tcp --json`,
		},
		Local:  local,
		Remote: remote,
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

// remote sets up the grandchild's side of a call to grandma at base: the
// connection is switched to lines by one HTTP request that carries the
// script, and her record of the call arrives as one last line after her
// farewell.
func remote(s *call.Session, base string) call.RemoteRoles {
	id := wire.NewCallID()
	q := wire.ScriptQuery(s.Script)
	q.Set(wire.QueryCall, id)
	r := &elsewhere{
		url:         base + Path + "?" + q.Encode(),
		upgradeWait: remoteSlack * (upgradeWait + s.RoundTrip()),
	}
	kid := &grandchild{
		script:    s.Script,
		rec:       s.Rec,
		dial:      s.DialContext,
		addr:      strings.TrimPrefix(base, "http://"),
		readWait:  s.Silence(readWait),
		closeWait: remoteSlack * (closeWait + s.RoundTrip()),
		remote:    r,
	}
	return call.RemoteRoles{
		Grandchild: func(ctx context.Context) error {
			err := kid.call(ctx)
			if errors.Is(err, errHungUpEarly) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = fmt.Errorf("grandma at %s stopped mid-call (was duplexdemo serve stopped? its log says why): %w", base, err)
			}
			return err
		},
		Record:   func() []byte { return r.log },
		HandOver: newHandOverWatch,
		CallID:   id,
	}
}

// elsewhere is what a call to a grandma elsewhere adds: where to ask her
// to switch the connection to lines, and her record of the call.
type elsewhere struct {
	url         string // the upgrade's: base, Path and the script's query
	upgradeWait time.Duration
	log         []byte // written by listen only, read after the call
}

// utterance is a line someone wants to say, and the message it was
// recorded as.
type utterance struct {
	id    timeline.MsgID
	label string
	text  string
}

// errLineTooLong: the peer sent a line longer than its side's reader takes
// (a lineTooLong, which says how long that is).
var errLineTooLong = errors.New("a line too long")

// lineTooLong is errLineTooLong for a reader of lines of at most max bytes.
type lineTooLong struct{ max int }

func (e lineTooLong) Error() string        { return fmt.Sprintf("a line over %d bytes", e.max) }
func (e lineTooLong) Is(target error) bool { return target == errLineTooLong }

// newLineReader returns a reader of r's lines of at most maxLine bytes, for
// readLine: call.MaxLine for grandma's, and for the grandchild's the
// script's Script.MaxGrandchildLine(call.MaxLine), which is longer only to
// take her photo.
func newLineReader(r io.Reader, maxLine int) *bufio.Reader {
	return bufio.NewReaderSize(r, maxLine+1) // a longest line and its newline
}

// readLine reads one line from r (newLineReader) and returns it without
// its newline. A line longer than r takes is errLineTooLong; the stream's
// end between two lines is io.EOF, and within one io.ErrUnexpectedEOF.
func readLine(r *bufio.Reader) (string, error) {
	b, err := r.ReadSlice('\n')
	switch {
	case err == nil:
		return string(b[:len(b)-1]), nil
	case errors.Is(err, bufio.ErrBufferFull):
		return "", lineTooLong{r.Size() - 1}
	case errors.Is(err, io.EOF) && len(b) > 0:
		return "", io.ErrUnexpectedEOF
	}
	return "", err
}

// writeLine writes text and its newline in one write, bounded by
// writeWait, if text is one line of at most maxLine bytes: call.MaxLine
// for grandma's, the script's MaxGrandchildLine for the grandchild's. Only
// a side's writer goroutine may call it. Behind the emulated link the
// write queues and returns at once, however long the line; its bytes then
// cross at the link's rate, and the next line queues behind them.
func writeLine(conn net.Conn, text string, maxLine int) error {
	if strings.ContainsRune(text, '\n') || len(text) > maxLine {
		return fmt.Errorf("%q is not one line of at most %d bytes", clip(text), maxLine)
	}
	if err := conn.SetWriteDeadline(time.Now().Add(writeWait)); err != nil {
		return err
	}
	_, err := conn.Write(append([]byte(text), '\n'))
	return err
}

// clip shortens text for an error message: a refused line may be as long
// as a photo.
func clip(text string) string {
	const most = 60
	if len(text) <= most {
		return text
	}
	return text[:most] + "..."
}

// writeRecord writes grandma's record of the call (wire.EncodeRecord: one
// line of JSON, at most wire.MaxRecord bytes) and its newline in one
// write, bounded by writeWait. Only grandma's writer may call it.
func writeRecord(conn net.Conn, rec []byte) error {
	if bytes.IndexByte(rec, '\n') >= 0 || len(rec) > wire.MaxRecord || !bytes.HasPrefix(rec, []byte(wire.RecordPrefix)) {
		return fmt.Errorf("grandma's record is not one line of at most %d bytes starting %s", wire.MaxRecord, wire.RecordPrefix)
	}
	if err := conn.SetWriteDeadline(time.Now().Add(writeWait)); err != nil {
		return err
	}
	_, err := conn.Write(append(rec, '\n'))
	return err
}

// readRecord reads grandma's record of the call, a line of at most
// wire.MaxRecord bytes starting with wire.RecordPrefix, and returns it
// without its newline. The end of the stream before it is io.EOF.
func readRecord(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		b, err := r.ReadSlice('\n')
		line = append(line, b...)
		switch {
		case len(line) > wire.MaxRecord+1:
			return nil, fmt.Errorf("her record is over %d bytes", wire.MaxRecord)
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return nil, io.ErrUnexpectedEOF
		case err != nil:
			return nil, err
		case !bytes.HasPrefix(line, []byte(wire.RecordPrefix)):
			return nil, fmt.Errorf("grandma said %q after her farewell; only her record of the call may follow it", line[:len(line)-1])
		}
		return line[:len(line)-1], nil
	}
}

// setReadDeadline bounds the next read from conn by d. An in-memory pipe
// refuses a deadline once its peer has closed (io.ErrClosedPipe), though
// what the peer wrote before is read, then the end of the stream: the read
// says so at once, and needs no bound.
func setReadDeadline(conn net.Conn, d time.Duration) error {
	if err := conn.SetReadDeadline(time.Now().Add(d)); err != nil && !errors.Is(err, io.ErrClosedPipe) {
		return err
	}
	return nil
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
