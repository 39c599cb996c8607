package webtransport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	wt "github.com/quic-go/webtransport-go"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/link"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// grandchild calls grandma over WebTransport and says each line the
// moment the script wants it said, while grandma's lines keep arriving.
type grandchild struct {
	script  story.Script
	rec     *timeline.Recorder
	session *call.Session
	// reach finds grandma: where she answers, and how to know her.
	reach func(ctx context.Context) (target, error)
	// readWait bounds the silence between two of grandma's lines.
	readWait time.Duration
	// closeWait bounds the wait for grandma's farewell after goodbye.
	closeWait time.Duration
	// handshake bounds opening the session.
	handshake time.Duration
	// progress follows the story as she hears it.
	progress *story.Progress
	// socket is her UDP socket behind the link, for the facts; set by
	// call before the call is over.
	socket *link.PacketConn
}

func (c *grandchild) want(label, text, reason string) utterance {
	return utterance{c.rec.Want(timeline.Client, label, text, reason), label, text}
}

// call places the call. It wants the question at once, while the session
// is still opening, and each later line when the script says (think); it
// speaks from this goroutine, the only writer of the stream, while listen
// reads on another, the only reader. It ends its side of the stream after
// her goodbye, and closes the session once grandma's farewell and the end
// of her side have come.
func (c *grandchild) call(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.progress = story.NewProgress(c.script)
	cues := c.script.Cues()
	wants := make(chan utterance, len(cues))
	// The first line is wanted at once, before dialing.
	wants <- c.want(cues[0].Label, cues[0].Text, timeline.ReasonConnecting)
	thought := make(chan struct{})
	go func() {
		defer close(thought)
		c.think(ctx, cues[1:], wants)
	}()
	defer func() {
		cancel()
		<-thought
	}()

	sess, closeAll, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	// Opening a stream costs no round trip: the stream is announced by
	// its first bytes, the question's.
	str, err := sess.OpenStream()
	if err != nil {
		return fmt.Errorf("opening a stream to grandma: %w", err)
	}
	var listenErr error
	listened := make(chan struct{})
	go func() {
		defer close(listened)
		listenErr = c.listen(str)
	}()
	err = c.speak(ctx, str, wants, listened)
	_ = sess.CloseWithError(codeNormal, "") // ends listen, if grandma has not already
	<-listened
	if listenErr != nil && (err == nil || errors.Is(err, errHungUpEarly)) {
		err = listenErr // what went wrong on grandma's side says more
	}
	return err
}

// target is where grandma answers: her UDP address, the session's URL,
// and the TLS configuration that knows her certificate.
type target struct {
	addr net.Addr
	url  string
	tls  *tls.Config
}

// reachLocal waits for a grandma in this process to answer, and returns
// where she does.
func reachLocal(a *answering) func(ctx context.Context) (target, error) {
	return func(ctx context.Context) (target, error) {
		select {
		case <-a.ready:
		case <-ctx.Done():
			return target{}, ctx.Err()
		}
		if a.err != nil {
			return target{}, a.err
		}
		tlsConf := pinned(a.cert)
		tlsConf.ServerName = "127.0.0.1"
		return target{addr: a.addr, url: "https://" + a.addr.String() + Path, tls: tlsConf}, nil
	}
}

// dial finds grandma's number and certificate, opens the grandchild's
// UDP socket behind the emulated link, makes the QUIC connection (its
// handshake: a round trip) and opens the WebTransport session on it (its
// CONNECT request: another). closeAll closes the connection, its transport
// and the socket, in that order, letting QUIC's CONNECTION_CLOSE cross.
func (c *grandchild) dial(ctx context.Context) (_ *wt.Session, closeAll func(), err error) {
	to, err := c.reach(ctx)
	if err != nil {
		return nil, nil, err
	}
	udp, _ := to.addr.(*net.UDPAddr) // nil: a socket on 127.0.0.1
	pc, err := c.session.ListenPacket(udp)
	if err != nil {
		return nil, nil, err
	}
	c.socket = pc
	tr := &quic.Transport{Conn: pc}
	var wtr *wt.Transport // its Close, before it is used, would fail
	var qconn *quic.Conn
	shut := func() {
		if qconn != nil {
			_ = qconn.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeNoError), "")
		}
		if wtr != nil {
			_ = wtr.Close()
		}
		_ = tr.Close()
		_ = pc.Close() // lets the CONNECTION_CLOSE cross, then closes
	}
	defer func() {
		if err != nil {
			shut()
		}
	}()
	dctx, cancel := context.WithTimeout(ctx, c.handshake)
	defer cancel()
	tlsConf := to.tls
	tlsConf.NextProtos = []string{http3.NextProtoH3}
	qconn, err = tr.Dial(dctx, to.addr, tlsConf, quicConfig(c.handshake, c.readWait))
	if err != nil {
		return nil, nil, fmt.Errorf("calling grandma: the QUIC handshake failed: %w", err)
	}
	c.rec.Record(timeline.Client, timeline.KindConnect, "the QUIC connection is open")
	wtr = &wt.Transport{}
	cc, err := wtr.NewClientConn(qconn)
	if err != nil {
		return nil, nil, fmt.Errorf("calling grandma: %w", err)
	}
	rsp, sess, err := cc.Dial(dctx, to.url, nil)
	if err != nil {
		if rsp != nil && rsp.StatusCode != http.StatusOK {
			return nil, nil, fmt.Errorf("calling grandma: she answered %s", refusal(rsp))
		}
		return nil, nil, fmt.Errorf("calling grandma: opening the session: %w", err)
	}
	c.rec.Record(timeline.Client, timeline.KindConnect, "the WebTransport session is open")
	return sess, shut, nil
}

// errHungUpEarly: grandma ended the call before the goodbye.
var errHungUpEarly = errors.New("grandma hung up before the goodbye")

// think wants each later line of her schedule at its time, but not before
// the story has reached its milestone on her side of the link, whatever
// the writer is doing, and hands them to speak in order. By then the
// session is open, so a wait means the writer is busy.
func (c *grandchild) think(ctx context.Context, cues []story.Cue, wants chan<- utterance) {
	defer close(wants)
	for _, cue := range cues {
		if c.rec.Await(ctx, cue.At, c.progress.Reached(cue.After)) != nil {
			return
		}
		wants <- c.want(cue.Label, cue.Text, timeline.ReasonChannelBusy) // buffered for every line: never blocks
	}
}

// speak is the only goroutine that writes the stream. It says each line as
// soon as it is wanted, without waiting for grandma to finish anything, and
// hangs up when the goodbye comes.
func (c *grandchild) speak(ctx context.Context, str *wt.Stream, wants <-chan utterance, listened <-chan struct{}) error {
	for {
		select {
		case u, ok := <-wants:
			if !ok {
				return ctx.Err() // think gave up: the call is being stopped
			}
			if err := c.say(str, u); err != nil {
				return err
			}
			if u.label == story.LabelGoodbye {
				return c.hangUp(ctx, str, listened)
			}
		case <-listened:
			return errHungUpEarly
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// hangUp ends her side of the stream after her goodbye (a FIN) and waits,
// at most c.closeWait, for grandma's farewell and the end of her side.
func (c *grandchild) hangUp(ctx context.Context, str *wt.Stream, listened <-chan struct{}) error {
	if err := str.Close(); err != nil {
		return fmt.Errorf("saying goodbye: %w", err)
	}
	t := time.NewTimer(c.closeWait)
	defer t.Stop()
	select {
	case <-listened:
		return nil
	case <-t.C:
		return fmt.Errorf("grandma did not answer the goodbye within %v", c.closeWait)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// say writes one line on the stream.
func (c *grandchild) say(str *wt.Stream, u utterance) error {
	c.rec.Sent(u.id)
	if err := writeLine(str, u.text); err != nil {
		return fmt.Errorf("saying the %s: %w", u.label, err)
	}
	return nil
}

// listen is the only goroutine that reads the stream. It hears each of
// grandma's lines; it returns nil when her side of the stream ends after
// her farewell.
func (c *grandchild) listen(str *wt.Stream) error {
	r := newLineReader(str)
	farewell := false
	for {
		if err := str.SetReadDeadline(time.Now().Add(c.readWait)); err != nil {
			return fmt.Errorf("hearing grandma: %w", err)
		}
		text, err := readLine(r)
		var se *wt.SessionError
		switch {
		case errors.Is(err, io.EOF) && farewell:
			return nil
		case errors.Is(err, io.EOF):
			return errors.New("grandma ended the stream before her farewell")
		case errors.As(err, &se) && se.Remote:
			return fmt.Errorf("grandma hung up with code %d: %s", se.ErrorCode, se.Message)
		case err != nil:
			return fmt.Errorf("hearing grandma: %w", err)
		}
		m, err := c.rec.Heard(timeline.Server, text)
		if err != nil {
			return err
		}
		c.progress.Heard(m.Label)
		farewell = farewell || m.Label == story.LabelFarewell
	}
}

// facts counts the UDP datagrams of the call, each way, as they crossed
// the link: QUIC's packets (a datagram may carry several).
func (c *grandchild) facts(*timeline.Timeline) []result.Fact {
	if c.socket == nil {
		return nil
	}
	return []result.Fact{
		{Key: "datagrams_sent", Title: "UDP datagrams sent", Value: float64(c.socket.DatagramsWritten())},
		{Key: "datagrams_received", Title: "UDP datagrams received", Value: float64(c.socket.DatagramsRead())},
	}
}

// refusal is grandma's status and the first line of her reason, when she
// refuses a session. Her reason is waited for a moment at most: the
// stream is reset when the connection closes, which ends the read.
func refusal(rsp *http.Response) string {
	if rsp.Body == nil {
		return rsp.Status
	}
	read := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(rsp.Body, call.MaxLine))
		why, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		read <- why
	}()
	t := time.NewTimer(refusalWait)
	defer t.Stop()
	select {
	case why := <-read:
		if why != "" {
			return rsp.Status + ": " + why
		}
	case <-t.C:
	}
	return rsp.Status
}

// refusalWait bounds the wait for the reason of a refusal.
const refusalWait = time.Second
