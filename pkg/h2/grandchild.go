package h2

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// grandchild calls grandma on one HTTP/2 connection, which she opens
// herself: the call's stream carries her lines up and grandma's down at the
// same time, and each urgent line goes up on a stream of its own.
type grandchild struct {
	script    story.Script
	rec       *timeline.Recorder
	transport *http.Transport
	addr      string // grandma's host:port
	// dialWait bounds opening the connection.
	dialWait time.Duration
	// readWait bounds the silence between two of grandma's lines.
	readWait time.Duration
	// ear hears grandma's lines, on whichever stream they come.
	ear *timeline.Ear
	// streams counts the streams she opened: the requests whose headers
	// went on the connection.
	streams *atomic.Int64
	// wrote counts the bytes the client wrote on the connection.
	wrote *wrote
	// remote is set when grandma is elsewhere: what her call's stream
	// carries, and her record of the call, which ends it.
	remote *elsewhere
}

// elsewhere is a call to a grandma elsewhere: the query of the call's
// stream (the script, the call's id), and her record of the call.
type elsewhere struct {
	query string

	mu  sync.Mutex
	log []byte
}

// record returns grandma's record as she handed it over; nil if she did
// not.
func (e *elsewhere) record() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.log
}

// line is a line the grandchild wants to say: sent is closed once it has
// gone, and last says it ends her side of its stream.
type line struct {
	utterance
	sent chan struct{}
	// onWire is how many bytes the connection must have taken for the
	// line to be on it as far as flow control lets it, all of it or a
	// window's worth: set when the line is handed to the client (sent),
	// read once sent is closed.
	onWire *atomic.Int64
	last   bool
}

func (c *grandchild) want(cue story.Cue, reason string) line {
	id := c.rec.Want(timeline.Client, cue.Label, cue.Text, reason)
	return line{utterance: utterance{id, cue.Label, cue.Text}, sent: make(chan struct{}), onWire: new(atomic.Int64)}
}

// errHungUpEarly: grandma ended the call's stream before her farewell,
// without a word.
var errHungUpEarly = errors.New("grandma hung up before the goodbye")

// errQuiet: grandma said nothing for readWait.
var errQuiet = errors.New("grandma went silent")

// call places the call. She wants the question at once, while the
// connection is still opening; the connection is hers alone (a
// ClientConn), so every stream of the call shares it, and no request could
// open another. The call's stream (talk) carries her lines and grandma's,
// think says each later line when the script wants it, and each urgent line
// has a stream of its own (sayUrgent). Once everything is said and heard,
// she hangs up: she closes the connection.
func (c *grandchild) call(ctx context.Context) error {
	cues := c.script.Cues()
	first := c.want(cues[0], timeline.ReasonConnecting)
	dialCtx, cancel := context.WithTimeout(ctx, c.dialWait)
	conn, err := c.transport.NewClientConn(dialCtx, "http", c.addr) // the call's one connection
	cancel()
	if err != nil {
		return fmt.Errorf("calling grandma: %w", err)
	}
	defer conn.Close() // hang up
	progress := story.NewProgress(c.script)
	g, ctx := errgroup.WithContext(ctx)
	up := make(chan line, len(cues)) // her lines for the call's stream: saying one never waits
	s := &speaker{c: c, conn: conn, g: g, up: up, progress: progress}
	g.Go(func() error { return c.talk(ctx, conn, up, progress) })
	s.say(ctx, first)
	g.Go(func() error { return c.think(ctx, s, cues[1:], first) })
	return g.Wait()
}

// speaker sends the grandchild's lines: up the call's stream, or each
// urgent one on a stream of its own, which it opens in g.
type speaker struct {
	c        *grandchild
	conn     *http.ClientConn
	g        *errgroup.Group
	up       chan<- line
	progress *story.Progress
}

// say sends l. Goodbye is her last line: it ends her side of the call's
// stream.
func (s *speaker) say(ctx context.Context, l line) {
	if s.c.script.Urgent(l.label) {
		s.g.Go(func() error { return s.c.sayUrgent(ctx, s.conn, l, s.progress) })
		return
	}
	l.last = l.label == story.LabelGoodbye
	s.up <- l
}

// think wants each later line at its time, but not before the story has
// reached its milestone on her side of the link, nor before the line
// before it has gone, and says it.
func (c *grandchild) think(ctx context.Context, s *speaker, cues []story.Cue, prev line) error {
	for _, cue := range cues {
		select {
		case <-prev.sent:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := c.rec.Await(ctx, cue.At, s.progress.Reached(cue.After)); err != nil {
			return err
		}
		if c.script.Urgent(cue.Label) {
			// On a stream of its own it could reach the connection before
			// the line before it, which the client has taken but may not
			// have written yet. As a program writes a line and then the
			// next, it goes once that line is on the connection as far as
			// flow control lets it (a long one, a window of it), and then
			// overtakes the rest of it there.
			if err := c.wrote.past(ctx, prev.onWire.Load()); err != nil {
				return err
			}
		}
		prev = c.want(cue, timeline.ReasonChannelBusy)
		s.say(ctx, prev)
	}
	return nil
}

// talk opens the call's stream, whose request body carries her lines as she
// says them (up), and hears grandma's on its response until her farewell
// ends it. A stream quiet for readWait is given up.
func (c *grandchild) talk(ctx context.Context, conn *http.ClientConn, up <-chan line, progress *story.Progress) error {
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	quiet := time.AfterFunc(c.readWait, func() { stop(errQuiet) })
	defer quiet.Stop()
	failed := func(what string, err error) error {
		if errors.Is(context.Cause(ctx), errQuiet) {
			return fmt.Errorf("%s: grandma said nothing for %v", what, c.readWait.Round(time.Millisecond))
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	// The client watches ctx while it reads the body, so the body does.
	path := Path
	if c.remote != nil {
		path += "?" + c.remote.query
	}
	req, err := c.request(ctx, path, &lineBody{rec: c.rec, wrote: c.wrote, lines: up, done: ctx.Done(), closed: make(chan struct{})})
	if err != nil {
		return err
	}
	resp, err := conn.RoundTrip(req)
	if err != nil {
		if c.remote != nil && !errors.Is(context.Cause(ctx), errQuiet) {
			return fmt.Errorf("calling grandma at %s over HTTP/2 with prior knowledge: %w (is it duplexdemo serve, of this version?)", c.addr, err)
		}
		return failed("calling grandma", err)
	}
	defer resp.Body.Close()
	if err := c.checkServer(resp); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return answered(resp, "the call")
	}
	c.rec.Record(timeline.Client, timeline.KindConnect, "the call's stream is open")
	answer, lineMax := int64(call.MaxAnswer), call.MaxLine
	if c.remote != nil {
		answer, lineMax = call.MaxAnswer+wire.MaxRecord+1, wire.MaxRecord // her record ends it
	}
	br := bufio.NewReaderSize(http.MaxBytesReader(nil, resp.Body, answer), lineMax+1)
	farewell := false
	for {
		text, err := readLine(br)
		if err == io.EOF {
			if why := resp.Trailer.Get(TrailerHangUp); why != "" {
				return fmt.Errorf("grandma hung up: %s", why)
			}
			if !farewell {
				return errHungUpEarly
			}
			if c.remote != nil && c.remote.record() == nil {
				return errors.New("grandma ended the call's stream without handing over her record of the call")
			}
			return nil
		}
		if err != nil {
			return failed("hearing grandma", tooMuch(err))
		}
		quiet.Reset(c.readWait)
		if farewell && c.remote != nil && strings.HasPrefix(text, wire.RecordPrefix) && c.remote.record() == nil {
			c.remote.mu.Lock()
			c.remote.log = []byte(text)
			c.remote.mu.Unlock()
			continue
		}
		if len(text) > call.MaxLine {
			return failed("hearing grandma", errLineTooLong)
		}
		m, err := c.ear.Hear(ctx, text)
		if err != nil {
			return err
		}
		progress.Heard(m.Label)
		farewell = m.Label == story.LabelFarewell
	}
}

// sayUrgent opens a stream for one urgent line, and hears grandma's reply
// on it, if she has one.
func (c *grandchild) sayUrgent(ctx context.Context, conn *http.ClientConn, l line, progress *story.Progress) error {
	ctx, cancel := context.WithTimeout(ctx, c.readWait)
	defer cancel()
	l.last = true
	lines := make(chan line, 1)
	lines <- l
	req, err := c.request(ctx, UrgentPath, &lineBody{rec: c.rec, lines: lines, done: ctx.Done(), closed: make(chan struct{})})
	if err != nil {
		return err
	}
	req.ContentLength = int64(len(l.text) + 1) // the line and its newline
	resp, err := conn.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("saying the %s: %w", l.label, err)
	}
	defer resp.Body.Close()
	if err := c.checkServer(resp); err != nil {
		return err
	}
	switch resp.StatusCode {
	case http.StatusNoContent:
		return nil // she has no reply to it
	case http.StatusOK:
	default:
		return answered(resp, "the "+l.label)
	}
	br := newLineReader(http.MaxBytesReader(nil, resp.Body, call.MaxAnswer))
	for {
		text, err := readLine(br)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("hearing grandma's reply to the %s: %w", l.label, tooMuch(err))
		}
		m, err := c.ear.Hear(ctx, text)
		if err != nil {
			return err
		}
		progress.Heard(m.Label)
	}
}

// request returns a POST of body to path, which counts its stream once its
// headers are written.
func (c *grandchild) request(ctx context.Context, path string, body io.ReadCloser) (*http.Request, error) {
	trace := &httptrace.ClientTrace{WroteHeaders: func() { c.streams.Add(1) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, "http://"+c.addr+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	if c.remote != nil {
		req.Header.Set(wire.HeaderVersion, strconv.Itoa(wire.Version))
	}
	return req, nil
}

// checkServer checks, for a grandma elsewhere, that it is duplexdemo serve
// that answered, and that it speaks this protocol.
func (c *grandchild) checkServer(resp *http.Response) error {
	if c.remote == nil {
		return nil
	}
	v := resp.Header.Get(wire.HeaderVersion)
	if v == "" {
		return fmt.Errorf("%s is not duplexdemo serve: it answered the call with %s", c.addr, resp.Status)
	}
	return wire.CheckVersion(v, "server")
}

// answered is the error of a stream that grandma refused.
func answered(resp *http.Response, what string) error {
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	return fmt.Errorf("grandma answered %s with %s: %s", what, resp.Status, strings.TrimSpace(string(msg)))
}

// tooMuch says plainly that grandma said more than an answer may hold.
func tooMuch(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return fmt.Errorf("grandma said more than %d bytes on one stream", call.MaxAnswer)
	}
	return err
}

// lineBody is a request body that carries lines as the grandchild says
// them. The HTTP/2 client reads it on a goroutine of its own and writes
// what it reads in a DATA frame at once: a line counts as sent when the
// client takes it, just before it goes on the connection. A line marked
// last ends the body, and with it her side of the stream (END_STREAM on
// its frame).
type lineBody struct {
	rec   *timeline.Recorder
	wrote *wrote          // the connection's count, for the call's stream; nil for an urgent one
	given int64           // the bytes of lines handed to the client so far
	lines <-chan line     // what she says, in order
	done  <-chan struct{} // closed when the request is given up
	// rest is what the client's last Read could not take, and last says
	// it ends the body: only the reader touches them.
	rest []byte
	last bool

	closed    chan struct{}
	closeOnce sync.Once
}

// errBodyClosed: the client closed the body while waiting for a line.
var errBodyClosed = errors.New("the stream was closed")

func (b *lineBody) Read(p []byte) (int, error) {
	if len(b.rest) == 0 {
		if b.last {
			return 0, io.EOF
		}
		select {
		case l := <-b.lines:
			b.rec.Sent(l.id)
			if b.wrote != nil {
				l.onWire.Store(b.wrote.bytes() + onConnection(len(l.text)+1, b.given))
			}
			b.given += int64(len(l.text) + 1)
			close(l.sent)
			b.rest, b.last = []byte(l.text+"\n"), l.last
		case <-b.closed:
			return 0, errBodyClosed
		case <-b.done:
			return 0, context.Canceled
		}
	}
	n := copy(p, b.rest)
	b.rest = b.rest[n:]
	if len(b.rest) == 0 && b.last {
		return n, io.EOF
	}
	return n, nil
}

// Close ends a Read that waits for a line; the client calls it when the
// stream ends, from any goroutine.
func (b *lineBody) Close() error {
	b.closeOnce.Do(func() { close(b.closed) })
	return nil
}

// An HTTP/2 frame's header, and the largest frame a peer must accept
// before its SETTINGS say otherwise (RFC 9113, sections 4.1 and 4.2).
const (
	frameHeader = 9
	maxFrame    = 16384
)

// onConnection is how many bytes of the connection a line of n bytes takes
// before flow control holds the rest of it, given the stream's earlier
// lines took given: as much of it as grandma's window for a stream
// (call.StreamWindow) has room for, in DATA frames of at most maxFrame.
// Grandma adds to the window only once she has read a good part of it, so
// the few bytes of a call's earlier lines still count against it.
func onConnection(n int, given int64) int64 {
	data := min(int64(n), max(call.StreamWindow-given, 0))
	frames := (data + maxFrame - 1) / maxFrame
	return data + frames*frameHeader
}

// wrote counts the bytes written on a connection, and wakes those waiting
// for the count to reach a mark.
type wrote struct {
	mu   sync.Mutex
	n    int64
	more chan struct{} // closed, and replaced, at each write
}

func newWrote() *wrote { return &wrote{more: make(chan struct{})} }

func (w *wrote) add(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n += int64(n)
	close(w.more)
	w.more = make(chan struct{})
}

func (w *wrote) bytes() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// past returns once at least mark bytes have been written, or ctx ends.
func (w *wrote) past(ctx context.Context, mark int64) error {
	for {
		w.mu.Lock()
		n, more := w.n, w.more
		w.mu.Unlock()
		if n >= mark {
			return nil
		}
		select {
		case <-more:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// countedConn is the call's connection, its writes counted in wrote.
type countedConn struct {
	net.Conn
	wrote *wrote
}

func (c countedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.wrote.add(n)
	return n, err
}
