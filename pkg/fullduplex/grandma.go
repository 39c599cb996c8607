package fullduplex

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// Grandma answers the phone. She tells her story at her own pace, answers
// an interruption the moment she hears it, and says her afterthought when
// she thinks of it: nobody has to ask first.
//
// Mode's local role makes one for a call in this process. NewGrandma makes
// one for a call from a grandchild elsewhere (duplexdemo serve): she records
// on a clock of her own, pings to drop a peer that has gone, bounds the call
// by its script whatever the pings say, and hands her record of the call
// over in a last text message before her closing frame.
//
// Every close frame of a call is answered (RFC 6455 §5.5.1): the goodbye
// with her farewell, any other with its own code.
type Grandma struct {
	script   story.Script
	rec      *timeline.Recorder
	upgrader websocket.Upgrader
	// readWait bounds the silence between two of the grandchild's lines;
	// pings and pongs do not break it.
	readWait time.Duration
	// callLimit, if set, bounds the whole call.
	callLimit time.Duration
	// closeWait bounds how long she waits for the grandchild's close frame
	// after sending hers, before closing the connection.
	closeWait time.Duration
	// handOver says she hands her record over before her closing frame.
	handOver bool
	// pingEvery, if set, is how often she pings the grandchild; a pong (or
	// any message) must come within pongWait of each ping.
	pingEvery, pongWait time.Duration
	// maxLines, if set, bounds the lines she hears in one call.
	maxLines int
	// latency is the emulated link on her side, for her record.
	latency time.Duration
}

// Served is how a grandma for a grandchild elsewhere behaves on the
// network.
type Served struct {
	// CheckOrigin is the upgrader's origin check; nil keeps gorilla's
	// same-origin rule.
	CheckOrigin func(*http.Request) bool
	// Latency is the emulated link on the server's side, which her waits
	// allow for.
	Latency time.Duration
	// PingEvery and PongWait drop a grandchild that has gone silent.
	PingEvery, PongWait time.Duration
	// MaxLines bounds the lines one call may say to her; over it the call
	// is closed with 1008 (policy violation).
	MaxLines int
	// Silence bounds the time between two of the grandchild's lines, pings
	// or no pings; past it the call is closed with 1008. 0 allows the
	// script's length, 10 s and a round trip of the link.
	Silence time.Duration
	// Limit bounds the whole call; past it the call is closed with 1008.
	// 0 sets no bound.
	Limit time.Duration
	// CloseWait bounds how long she waits for the grandchild's close frame
	// after hers; 0 waits a second and a round trip of the link.
	CloseWait time.Duration
}

// NewGrandma returns grandma for one call from a grandchild elsewhere, who
// asked for script s. rec must be her own recorder
// (timeline.NewSideRecorder for the server, with the script's labels).
// ServeHTTP takes the call and returns when it is over.
func NewGrandma(s story.Script, rec *timeline.Recorder, o Served) *Grandma {
	g := &Grandma{
		script:    s,
		rec:       rec,
		readWait:  o.Silence,
		callLimit: o.Limit,
		closeWait: o.CloseWait,
		upgrader: websocket.Upgrader{
			HandshakeTimeout: handshakeTimeout + 2*o.Latency,
			CheckOrigin:      o.CheckOrigin,
		},
		handOver:  true,
		pingEvery: o.PingEvery,
		pongWait:  o.PongWait,
		maxLines:  o.MaxLines,
		latency:   o.Latency,
	}
	if g.readWait == 0 {
		g.readWait = readWait + s.GoodbyeAt + 2*o.Latency
	}
	if g.closeWait == 0 {
		g.closeWait = closeWait + 2*o.Latency
	}
	return g
}

// phoneLine is one call's connection, and whether grandma's close frame is
// on its way on it: a call sends one, whichever goroutine ends it.
type phoneLine struct {
	*websocket.Conn
	closing atomic.Bool
}

// utterance is a line someone wants to say, and the message it was
// recorded as.
type utterance struct {
	id    timeline.MsgID
	label string
	text  string
}

// heardLine is what grandma's reader hands her writer: the label of a line
// she heard, and her reply to it when she has one.
type heardLine struct {
	label string
	reply utterance
}

func (g *Grandma) want(label, text string) utterance {
	return utterance{g.rec.Want(timeline.Server, label, text, timeline.ReasonChannelBusy), label, text}
}

// ServeHTTP takes one call: it upgrades the request to a WebSocket and
// talks until the grandchild says goodbye.
func (g *Grandma) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != Path {
		http.NotFound(w, r)
		return
	}
	g.ServeCall(w, r)
}

// ServeCall is ServeHTTP, saying how the call ended: "" when the opening
// handshake failed (the upgrader has answered), "ok" when it ended with
// her farewell, and otherwise why it ended ("dropped: ...", "cut: ...").
func (g *Grandma) ServeCall(w http.ResponseWriter, r *http.Request) string {
	var header http.Header
	if g.handOver {
		header = http.Header{wire.HeaderVersion: {strconv.Itoa(wire.Version)}}
	}
	ws, err := g.upgrader.Upgrade(w, r, header) // on failure it has replied
	if err != nil {
		return ""
	}
	conn := &phoneLine{Conn: ws}
	defer conn.Close()
	conn.SetReadLimit(int64(g.script.MaxGrandchildLine(call.MaxLine)))
	heard := make(chan heardLine)
	spoken := make(chan struct{})
	listened := make(chan struct{})
	var dropped string
	go func() {
		defer close(listened)
		dropped = g.listen(conn, heard, spoken)
		g.awaitClose(conn)
	}()
	outcome := g.speak(r.Context(), conn, heard)
	close(spoken)
	if conn.closing.Load() {
		// Her close frame is sent: the grandchild's in answer completes
		// the closing handshake (RFC 6455 §7.1.1), and lets the connection
		// end without a reset that could lose hers. She waits a moment.
		t := time.NewTimer(g.closeWait)
		select {
		case <-listened:
		case <-t.C:
		}
		t.Stop()
	}
	conn.Close() // ends listen, if the peer has not already
	<-listened
	if outcome == "" {
		outcome = "dropped: " + dropped
	}
	return outcome
}

// listen is the only goroutine that reads from conn. It hears each line,
// works out grandma's reply at once, and hands both to speak, unless speak
// has ended (spoken is closed). It closes heard when the call is over.
//
// Two deadlines bound each read: the grandchild's silence (no line for
// readWait), which only a line moves on, and with pings a pong due for the
// latest ping, which any pong or line moves on. A pong never stretches the
// silence: a caller that answers pings but says nothing is dropped.
func (g *Grandma) listen(conn *phoneLine, heard chan<- heardLine, spoken <-chan struct{}) (why string) {
	defer close(heard)
	lines := 0
	quietUntil := time.Now().Add(g.readWait)
	deadline := func() time.Time {
		if g.pingEvery > 0 {
			if pong := time.Now().Add(g.pingEvery + g.pongWait); pong.Before(quietUntil) {
				return pong
			}
		}
		return quietUntil
	}
	hand := func(h heardLine) bool {
		select {
		case heard <- h:
			return true
		case <-spoken:
			return false
		}
	}
	conn.SetCloseHandler(func(code int, text string) error {
		if conn.closing.Load() {
			return nil // the answer to hers: the closing handshake is complete
		}
		if label, _ := g.script.Label(text); code == websocket.CloseNormalClosure && label == story.LabelGoodbye {
			if _, err := g.rec.Heard(timeline.Client, text); err == nil &&
				hand(heardLine{label: label, reply: g.want(story.LabelFarewell, g.script.Farewell)}) {
				return nil // speak answers it with her farewell, in her close frame
			}
		}
		// Any other close ends the call: she answers with its own code.
		g.hangUp(conn, code, "")
		return nil
	})
	if g.pingEvery > 0 {
		conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(deadline()) })
	}
	for {
		if err := conn.SetReadDeadline(deadline()); err != nil {
			return err.Error()
		}
		kind, data, err := conn.ReadMessage()
		if timedOut(err) {
			if !time.Now().Before(quietUntil) {
				g.hangUp(conn, websocket.ClosePolicyViolation, fmt.Sprintf("grandma heard no line from you for %v", g.readWait.Round(time.Millisecond)))
				return fmt.Sprintf("the grandchild said nothing for %v", g.readWait.Round(time.Millisecond))
			}
			g.hangUp(conn, websocket.ClosePolicyViolation, fmt.Sprintf("no pong within %v of a ping", g.pongWait))
			return "the grandchild stopped answering pings"
		}
		if err != nil {
			return readFailure(err)
		}
		if conn.closing.Load() {
			continue // her close frame is sent: only the grandchild's is awaited
		}
		quietUntil = time.Now().Add(g.readWait)
		if lines++; g.maxLines > 0 && lines > g.maxLines {
			g.hangUp(conn, websocket.ClosePolicyViolation, fmt.Sprintf("a call says at most %d lines", g.maxLines))
			return "too many lines"
		}
		if kind != websocket.TextMessage {
			g.hangUp(conn, websocket.CloseUnsupportedData, "grandma only hears text messages")
			return "a message that was not text"
		}
		if !utf8.Valid(data) {
			// gorilla leaves a text message's UTF-8 to the application.
			g.hangUp(conn, websocket.CloseInvalidFramePayloadData, "a text message must be UTF-8")
			return "a text message that was not UTF-8"
		}
		m, err := g.rec.Heard(timeline.Client, string(data))
		if err != nil {
			g.hangUp(conn, websocket.CloseProtocolError, "grandma did not expect that")
			return "a line that is not in the script"
		}
		if m.Label == story.LabelPhoto {
			continue // she looks at it: it asks for no reply
		}
		switch label, _ := g.script.Label(m.Text); label {
		case story.LabelQuestion:
			if !hand(heardLine{label: label}) {
				return "the call was over"
			}
		case story.LabelInterruption:
			if !hand(heardLine{label: label, reply: g.want(story.LabelAnswer, g.script.Answer)}) {
				return "the call was over"
			}
		case story.LabelGoodbye:
			// Goodbye in a text message, as a browser says it: grandma
			// answers with her farewell in her closing frame, as she does
			// to a goodbye in a closing frame.
			if !hand(heardLine{label: label, reply: g.want(story.LabelFarewell, g.script.Farewell)}) {
				return "the call was over"
			}
		default:
			g.hangUp(conn, websocket.CloseProtocolError, "grandma does not know what to say to that")
			return "a line she does not answer"
		}
	}
}

// awaitClose reads on once her close frame is sent, dropping what comes,
// until the grandchild's close frame comes (its handler does not answer
// it: the handshake is complete) or the read fails. ServeCall bounds it.
func (g *Grandma) awaitClose(conn *phoneLine) {
	if !conn.closing.Load() {
		return
	}
	for {
		if _, _, err := conn.NextReader(); err != nil {
			return
		}
	}
}

// writeFailure says why writing to the grandchild failed.
func writeFailure(err error) string {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return "dropped: the grandchild stopped reading"
	}
	return "dropped: " + err.Error()
}

// timedOut says whether err is a read deadline's. gorilla hides a
// timeout's error behind one of its own, which still says it timed out.
func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// readFailure says why reading from the grandchild failed.
func readFailure(err error) string {
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce):
		return fmt.Sprintf("the grandchild closed with %d %s", ce.Code, ce.Text)
	case errors.Is(err, websocket.ErrReadLimit):
		return "a message over the size limit"
	case timedOut(err):
		return "the grandchild went silent"
	}
	return err.Error()
}

// hangUp sends her close frame, with a code and a reason, unless one is
// on its way already: a call has one. WriteControl is the one write
// gorilla allows beside the writer goroutine, so either goroutine may hang
// up. The call ends whether or not the frame gets through, so its error
// changes nothing.
func (g *Grandma) hangUp(conn *phoneLine, code int, reason string) {
	if conn.closing.Swap(true) {
		return
	}
	_ = conn.WriteControl(websocket.CloseMessage, closeFrame(code, reason), time.Now().Add(writeWait))
}

// speak is the only goroutine that writes to conn, as gorilla requires. It
// tells the story one sentence every Pace, says each reply the moment
// listen hands it over, says the afterthought when grandma remembers it,
// and answers the goodbye with her own close frame. With a call limit, she
// hangs up when the call outlasts it (1008), whatever the grandchild does.
func (g *Grandma) speak(ctx context.Context, conn *phoneLine, heard <-chan heardLine) (outcome string) {
	afterthought := time.NewTimer(g.script.AfterthoughtAt - g.rec.Now())
	defer afterthought.Stop()
	var over <-chan time.Time
	if g.callLimit > 0 {
		t := time.NewTimer(g.callLimit)
		defer t.Stop()
		over = t.C
	}
	// failed says why a write failed; "" when listen has hung up (a
	// refusal, an answer to the grandchild's close), which says why.
	failed := func(err error) string {
		if conn.closing.Load() {
			return ""
		}
		return writeFailure(err)
	}
	sentence := time.NewTimer(0)
	sentence.Stop() // started when she hears the question
	defer sentence.Stop()
	var ping <-chan time.Time
	if g.pingEvery > 0 {
		t := time.NewTicker(g.pingEvery)
		defer t.Stop()
		ping = t.C
	}
	var telling bool // she has begun the story
	var storyStart time.Duration
	next := 0         // the next sentence to tell
	var remember bool // the afterthought is due, once the story is over
	storyOver := func() bool { return telling && next == len(g.script.Story) }
	afterthoughtDue := func() error {
		if !remember || !storyOver() {
			return nil
		}
		remember = false
		return g.say(conn.Conn, g.want(story.LabelAfterthought, g.script.Afterthought))
	}
	for {
		select {
		case h, ok := <-heard:
			if !ok {
				return "" // the connection is gone: listen says why
			}
			switch h.label {
			case story.LabelQuestion:
				if telling {
					continue // she is telling it already, or has told it
				}
				telling, storyStart = true, g.rec.Now()
				sentence.Reset(0)
			case story.LabelGoodbye:
				g.rec.Sent(h.reply.id)
				if g.handOver {
					if err := g.handLogOver(conn.Conn); err != nil {
						return failed(err)
					}
				}
				if conn.closing.Load() {
					return "" // listen has hung up meanwhile, and says why
				}
				// Her close frame ends the call whether or not it arrives.
				g.hangUp(conn, websocket.CloseNormalClosure, h.reply.text)
				return "ok"
			default:
				if err := g.say(conn.Conn, h.reply); err != nil {
					return failed(err)
				}
			}
		case <-sentence.C:
			if err := g.say(conn.Conn, g.want(story.LabelStory, g.script.Story[next])); err != nil {
				return failed(err)
			}
			if next++; next < len(g.script.Story) {
				sentence.Reset(storyStart + g.script.Pace*time.Duration(next) - g.rec.Now())
			}
			if err := afterthoughtDue(); err != nil {
				return failed(err)
			}
		case <-afterthought.C:
			// She remembers the fair at its scripted time, or when her story
			// is over if she is still telling it then (a slow link delays it).
			remember = true
			if err := afterthoughtDue(); err != nil {
				return failed(err)
			}
		case <-ping:
			if err := write(conn.Conn, websocket.PingMessage, nil); err != nil {
				return failed(err)
			}
		case <-over:
			g.hangUp(conn, websocket.ClosePolicyViolation, fmt.Sprintf("a call lasts at most %v", g.callLimit.Round(time.Millisecond)))
			return fmt.Sprintf("dropped: the call outlasted its script (%v at most)", g.callLimit.Round(time.Millisecond))
		case <-ctx.Done():
			// Going away (1001): the call ends whether or not this arrives.
			g.hangUp(conn, websocket.CloseGoingAway, "grandma has to go")
			return "cut: grandma had to go"
		}
	}
}

// handLogOver ends her record of the call and sends it as a text message,
// for a grandchild elsewhere to show her side too.
func (g *Grandma) handLogOver(conn *websocket.Conn) error {
	log, err := wire.EncodeRecord(g.rec.Finish(), wire.Facts{Connections: 1, Latency: g.latency})
	if err != nil {
		return err
	}
	return write(conn, websocket.TextMessage, log)
}

// say writes one line as a text message.
func (g *Grandma) say(conn *websocket.Conn, u utterance) error {
	g.rec.Sent(u.id)
	return write(conn, websocket.TextMessage, []byte(u.text))
}
