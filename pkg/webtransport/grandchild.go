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
	"sync"
	"sync/atomic"
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
	// progress follows the story as she hears it, and ear hears grandma's
	// lines on every stream.
	progress *story.Progress
	ear      *timeline.Ear
	// socket is her UDP socket behind the link, for the facts; set by
	// call before the call is over. streams counts the streams she opened.
	socket  *link.PacketConn
	streams atomic.Int64
}

// wanted is a line the grandchild wants to say: sent is closed once its
// writer has begun to write it.
type wanted struct {
	utterance
	sent chan struct{}
}

func (c *grandchild) want(cue story.Cue, reason string) wanted {
	id := c.rec.Want(timeline.Client, cue.Label, cue.Text, reason)
	return wanted{utterance{id, cue.Label, cue.Text}, make(chan struct{})}
}

// call places the call. It wants the question at once, while the session
// is still opening, and each later line when the script says (think); it
// speaks from this goroutine, the only writer of the call's stream, while
// listen reads it on another, the only reader. Each urgent line goes on a
// stream of its own, opened in the same session, where a goroutine says it
// and hears grandma's answer (sayUrgent). It ends her side of the call's
// stream after her goodbye, and closes the session once grandma's
// farewell, the end of her side, and her answers on the urgent streams
// have come.
func (c *grandchild) call(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.progress = story.NewProgress(c.script)
	c.ear = timeline.NewEar(c.rec, timeline.Server)
	cues := c.script.Cues()
	up := make(chan wanted, len(cues)) // her lines for the call's stream: wanting one never waits
	// The first line is wanted at once, before dialing.
	first := c.want(cues[0], timeline.ReasonConnecting)
	up <- first

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
	c.streams.Add(1)
	var listenErr error
	listened := make(chan struct{})
	go func() {
		defer close(listened)
		listenErr = c.listen(ctx, str)
	}()
	u := &urgentLines{answered: make(chan error, len(cues))}
	thought := make(chan struct{})
	go func() {
		defer close(thought)
		c.think(ctx, sess, cues[1:], first, up, u)
	}()
	err = c.speak(ctx, str, up, listened)
	if err == nil {
		err = u.await(ctx, c.closeWait) // her goodbye was said after them all
	}
	cancel()
	<-thought // no urgent line is said after this
	// Closing the session ends listen and sayUrgent, if grandma has not.
	_ = sess.CloseWithError(codeNormal, "")
	<-listened
	u.saying.Wait()
	if listenErr != nil && (err == nil || errors.Is(err, errHungUpEarly)) {
		err = listenErr // what went wrong on grandma's side says more
	}
	return err
}

// urgentLines are the urgent lines the grandchild has said, each on a
// stream of its own, by a goroutine in saying that sends on answered how
// it went, once.
type urgentLines struct {
	saying   sync.WaitGroup
	said     atomic.Int64
	answered chan error // buffered for every line: never blocks
}

// await waits, at most wait, for grandma's answer to each urgent line said
// so far; it returns the first error.
func (u *urgentLines) await(ctx context.Context, wait time.Duration) error {
	t := time.NewTimer(wait)
	defer t.Stop()
	for range u.said.Load() {
		select {
		case err := <-u.answered:
			if err != nil {
				return err
			}
		case <-t.C:
			return fmt.Errorf("grandma did not answer the %s on its stream within %v of her farewell", story.LabelInterruption, wait)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
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

// think wants each later line at its time, but not before the story has
// reached its milestone on her side of the link, nor before the line
// before it has begun to go, whatever the writers are doing. By then the
// session is open, so a wait means a writer is busy. It hands each line to
// speak in order, or says an urgent one on a stream of its own
// (sayUrgent), on a goroutine of u.
func (c *grandchild) think(ctx context.Context, sess *wt.Session, cues []story.Cue, prev wanted, up chan<- wanted, u *urgentLines) {
	defer close(up)
	for _, cue := range cues {
		select {
		case <-prev.sent:
		case <-ctx.Done():
			return
		}
		if c.rec.Await(ctx, cue.At, c.progress.Reached(cue.After)) != nil {
			return
		}
		prev = c.want(cue, timeline.ReasonChannelBusy)
		if !c.script.Urgent(cue.Label) {
			up <- prev // buffered for every line: never blocks
			continue
		}
		l := prev
		u.said.Add(1)
		u.saying.Go(func() { u.answered <- c.sayUrgent(ctx, sess, l) })
	}
}

// speak is the only goroutine that writes the call's stream. It says each
// line as soon as it is wanted, without waiting for grandma to finish
// anything, and hangs up when the goodbye comes.
func (c *grandchild) speak(ctx context.Context, str *wt.Stream, up <-chan wanted, listened <-chan struct{}) error {
	for {
		select {
		case l, ok := <-up:
			if !ok {
				return ctx.Err() // think gave up: the call is being stopped
			}
			if err := c.say(str, l); err != nil {
				return err
			}
			if l.label == story.LabelGoodbye {
				return c.hangUp(ctx, str, listened)
			}
		case <-listened:
			return errHungUpEarly
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// sayUrgent opens a stream for one urgent line, says it and ends her side
// of the stream (a FIN), and hears grandma's answer on it until she ends
// hers. Opening it costs no round trip: it is announced by the line's
// bytes, which go on the link among the call's stream's, not behind them.
func (c *grandchild) sayUrgent(ctx context.Context, sess *wt.Session, l wanted) (err error) {
	str, err := sess.OpenStream()
	if err != nil {
		close(l.sent)
		return fmt.Errorf("opening a stream for the %s: %w", l.label, err)
	}
	c.streams.Add(1)
	defer func() {
		if err != nil {
			str.CancelRead(streamGone) // she will read no more of it
		}
	}()
	if err := c.say(str, l); err != nil {
		return refused(l.label, err)
	}
	if err := str.Close(); err != nil {
		return refused(l.label, fmt.Errorf("saying the %s: %w", l.label, err))
	}
	if err := str.SetReadDeadline(time.Now().Add(c.readWait)); err != nil {
		return fmt.Errorf("hearing grandma's answer to the %s: %w", l.label, err)
	}
	r := newLineReader(str)
	text, err := readLine(r)
	if err == nil {
		if _, more := r.ReadByte(); more != io.EOF {
			err = more
			if more == nil {
				err = errors.New("she said more than one line")
			}
		}
	}
	if err != nil {
		return refused(l.label, fmt.Errorf("hearing grandma's answer to the %s on its stream: %w", l.label, err))
	}
	m, err := c.ear.Hear(ctx, text)
	if err != nil {
		return err
	}
	c.progress.Heard(m.Label)
	return nil
}

// refused says plainly why grandma reset the stream of the urgent line
// labelled label, if err says she did; otherwise it returns err.
func refused(label string, err error) error {
	var se *wt.StreamError
	if !errors.As(err, &se) || !se.Remote {
		return err
	}
	why := map[wt.StreamErrorCode]string{
		streamNotUrgent: "it is no urgent line of the script",
		streamTooLong:   fmt.Sprintf("a line is at most %d bytes", call.MaxLine),
		streamSilent:    "she heard no whole line in time",
		streamTooMany:   "more urgent streams than the script has urgent lines",
		streamNotALine:  "it was not one line",
	}[se.ErrorCode]
	if why == "" {
		why = "she gave up on it"
	}
	return fmt.Errorf("grandma refused the %s on a stream of its own (code %d): %s", label, se.ErrorCode, why)
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

// say writes one line on a stream: it is sent as its writer begins.
func (c *grandchild) say(str *wt.Stream, l wanted) error {
	c.rec.Sent(l.id)
	close(l.sent)
	var more time.Duration
	if l.label == story.LabelPhoto {
		more = c.script.PhotoTime() // QUIC takes it only as fast as the link carries it
	}
	if err := writeLine(str, l.text, more); err != nil {
		return fmt.Errorf("saying the %s: %w", l.label, err)
	}
	return nil
}

// listen is the only goroutine that reads the call's stream. It hears
// each of grandma's lines; it returns nil when her side of the stream ends
// after her farewell.
func (c *grandchild) listen(ctx context.Context, str *wt.Stream) error {
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
		m, err := c.ear.Hear(ctx, text)
		if err != nil {
			return err
		}
		c.progress.Heard(m.Label)
		farewell = farewell || m.Label == story.LabelFarewell
	}
}

// facts counts the streams the grandchild opened in the session (the
// call's, and one for each urgent line), and the UDP datagrams of the
// call, each way, as they crossed the link: QUIC's packets (a datagram may
// carry several).
func (c *grandchild) facts(*timeline.Timeline) []result.Fact {
	if c.socket == nil {
		return nil
	}
	return []result.Fact{
		{Key: "streams", Title: "WebTransport streams", Value: float64(c.streams.Load())},
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
