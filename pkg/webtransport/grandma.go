package webtransport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go/http3"
	wt "github.com/quic-go/webtransport-go"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/link"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// Grandma answers WebTransport sessions. She tells her story at her own
// pace, answers an interruption the moment she hears it, and says her
// afterthought when she thinks of it: nobody has to ask first.
type Grandma struct {
	script story.Script
	rec    *timeline.Recorder
	// readWait bounds the silence between two of the grandchild's lines.
	readWait time.Duration
	// closeWait bounds how long she waits, after her farewell, for the
	// grandchild to close the session.
	closeWait time.Duration
	// handshake bounds QUIC's handshake and the wait for the session's
	// stream; idle is QUIC's idle timeout.
	handshake, idle time.Duration
	// callLimit, if set, bounds the whole call; maxLines, if set, the
	// lines she hears in one call.
	callLimit time.Duration
	maxLines  int
	// handOver, if not nil, is given her record of the call once her
	// farewell is said, for a grandchild elsewhere.
	handOver func(*timeline.Timeline)
}

// Served is how a grandma for a grandchild elsewhere (duplexdemo serve)
// behaves on the network.
type Served struct {
	// Latency is the emulated link on the server's side, which her waits
	// allow for.
	Latency time.Duration
	// MaxLines bounds the lines one call may say to her; past it she hangs
	// up (codeTooMany).
	MaxLines int
	// Silence bounds the time between two of the grandchild's lines, and
	// Limit the whole call; past either she hangs up.
	Silence, Limit time.Duration
	// CloseWait bounds how long she waits, after her farewell, for the
	// grandchild to close the session.
	CloseWait time.Duration
	// HandOver is given her record of the call once her farewell is said:
	// duplexdemo serve hands it over at RecordPath.
	HandOver func(*timeline.Timeline)
}

// NewGrandma returns grandma for one call from a grandchild elsewhere, who
// asked for script s; rec must be her own recorder
// (timeline.NewSideRecorder for the server, with the script's labels).
// Talk takes the call.
func NewGrandma(s story.Script, rec *timeline.Recorder, o Served) *Grandma {
	return &Grandma{
		script:    s,
		rec:       rec,
		readWait:  o.Silence,
		closeWait: o.CloseWait,
		handshake: handshakeTimeout + 2*o.Latency,
		callLimit: o.Limit,
		maxLines:  o.MaxLines,
		handOver:  o.HandOver,
	}
}

// Talk takes one session, opened by the grandchild, and returns how it
// ended: "ok" after her farewell, otherwise why ("dropped: ...", "cut:
// ..."). It hangs up when ctx ends, and returns once the session is
// closed.
func (g *Grandma) Talk(ctx context.Context, sess *wt.Session) string { return g.talk(ctx, sess) }

// serve answers on a new UDP socket on 127.0.0.1 with a certificate made
// now, tells a of both, and takes sessions until ctx ends. It returns once
// the server, every session and the socket are closed.
func (g *Grandma) serve(ctx context.Context, a *answering) error {
	cert, leaf, err := newCertificate(time.Now())
	if err != nil {
		a.err = fmt.Errorf("grandma cannot make her certificate: %w", err)
		close(a.ready)
		return a.err
	}
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		a.err = fmt.Errorf("grandma cannot listen on UDP on 127.0.0.1: %w", err)
		close(a.ready)
		return a.err
	}
	// Her side of the link only counts: the grandchild's carries the
	// delay. Behind it, quic-go reads and writes one datagram at a time,
	// as it does on the grandchild's side: no segmentation offload.
	pc := link.WrapPacket(udp, 0, nil)
	defer pc.Close()
	srv := &wt.Server{
		H3: &http3.Server{
			TLSConfig:  http3.ConfigureTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}),
			QUICConfig: quicConfig(g.handshake, g.idle),
		},
		// CheckOrigin is left nil: webtransport-go then accepts only
		// requests without an Origin header or from the server's own.
	}
	srv.H3.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != Path {
			http.NotFound(w, r)
			return
		}
		sess, err := srv.Upgrade(w, r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		g.talk(ctx, sess)
	})
	a.addr, a.cert, a.socket = pc.LocalAddr(), leaf, pc
	close(a.ready)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(pc) }()
	select {
	case <-ctx.Done():
	case err := <-served: // the socket failed under her
		_ = srv.Close()
		return fmt.Errorf("grandma stopped answering: %w", err)
	}
	// Close ends every session with QUIC's CONNECTION_CLOSE, and waits for
	// her handlers; Serve then returns with the error of a closed server.
	err = srv.Close()
	<-served
	return err
}

// line is one session: the call's stream, the ear that hears the
// grandchild's lines on all its streams, how many lines she has heard, and
// whether she has hung up: a session is closed once, by whichever
// goroutine ends it.
type line struct {
	sess    *wt.Session
	str     *wt.Stream
	ear     *timeline.Ear
	lines   atomic.Int64
	closing atomic.Bool
}

// heardOne counts a line heard, on any stream, and says whether she may
// hear it: a call says at most max lines (0: no bound).
func (l *line) heardOne(max int) bool {
	n := l.lines.Add(1)
	return max == 0 || n <= int64(max)
}

// hangUp closes the session with code and reason, unless it is closing
// already. The call ends whether or not the peer hears it.
func (l *line) hangUp(code wt.SessionErrorCode, reason string) {
	if l.closing.Swap(true) {
		return
	}
	_ = l.sess.CloseWithError(code, reason)
}

// heardLine is what grandma's readers hand her writer: the label of a line
// she heard, her reply to it when she has one, and the urgent stream it
// came on, if it did not come on the call's: she answers it there.
type heardLine struct {
	label  string
	reply  utterance
	urgent *wt.Stream
}

func (g *Grandma) want(label, text string) utterance {
	return utterance{g.rec.Want(timeline.Server, label, text, timeline.ReasonChannelBusy), label, text}
}

// talk takes one session: it waits for the grandchild's stream, the
// call's, then listens to it on one goroutine, takes each urgent line's
// stream on another (acceptUrgent), and speaks on this one until her
// farewell, then waits, at most closeWait, for the grandchild to close the
// session. It returns how the call ended: "ok" after her farewell,
// otherwise why, once every goroutine it started has ended.
func (g *Grandma) talk(ctx context.Context, sess *wt.Session) string {
	defer g.rec.Record(timeline.Server, timeline.KindClose, "closes the session")
	actx, cancel := context.WithTimeout(ctx, g.handshake)
	str, err := sess.AcceptStream(actx)
	cancel()
	if err != nil {
		_ = sess.CloseWithError(codeSilent, "grandma waited for a stream in vain")
		return "dropped: no stream"
	}
	l := &line{sess: sess, str: str, ear: timeline.NewEar(g.rec, timeline.Client)}
	heard := make(chan heardLine)  // from the call's stream; listen closes it
	urgent := make(chan heardLine) // from urgent streams
	spoken := make(chan struct{})
	listened := make(chan struct{})
	var dropped string
	go func() {
		defer close(listened)
		dropped = g.listen(ctx, l, heard, spoken)
	}()
	uctx, stopAccepting := context.WithCancel(ctx)
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		g.acceptUrgent(uctx, l, urgent, spoken)
	}()
	defer func() {
		stopAccepting()
		<-accepted
	}()
	outcome := g.speak(ctx, l, heard, urgent)
	close(spoken)
	if outcome == "ok" {
		t := time.NewTimer(g.closeWait)
		select {
		case <-sess.Context().Done(): // the grandchild hung up
		case <-t.C:
		}
		t.Stop()
	}
	l.hangUp(codeNormal, "") // ends listen, if the grandchild has not already
	<-listened
	if outcome == "" {
		outcome = "dropped: " + dropped
	}
	return outcome
}

// listen is the only goroutine that reads the stream. It hears each line,
// works out grandma's reply at once, and hands both to speak, unless speak
// has ended (spoken is closed). It returns after the goodbye, or why it
// gave up, closing heard.
func (g *Grandma) listen(ctx context.Context, l *line, heard chan<- heardLine, spoken <-chan struct{}) (why string) {
	defer close(heard)
	hand := func(h heardLine) bool {
		select {
		case heard <- h:
			return true
		case <-spoken:
			return false
		}
	}
	r := newLineReaderSize(l.str, g.script.MaxGrandchildLine(call.MaxLine))
	for {
		if err := l.str.SetReadDeadline(time.Now().Add(g.readWait)); err != nil {
			return err.Error()
		}
		text, err := readLine(r)
		switch {
		case errors.Is(err, errTooLong):
			l.hangUp(codeTooLong, err.Error())
			return "a line over the size limit"
		case errors.Is(err, os.ErrDeadlineExceeded):
			l.hangUp(codeSilent, fmt.Sprintf("grandma heard no line from you for %v", g.readWait.Round(time.Millisecond)))
			return fmt.Sprintf("the grandchild said nothing for %v", g.readWait.Round(time.Millisecond))
		case errors.Is(err, io.EOF):
			l.hangUp(codeNotInScript, "you hung up without a goodbye")
			return "the grandchild ended the stream without a goodbye"
		case err != nil:
			return err.Error()
		}
		if !l.heardOne(g.maxLines) {
			l.hangUp(codeTooMany, fmt.Sprintf("a call says at most %d lines", g.maxLines))
			return "too many lines"
		}
		m, err := l.ear.Hear(ctx, text)
		if err != nil {
			l.hangUp(codeNotInScript, "grandma did not expect that")
			return "a line that is not in the script"
		}
		if m.Label == story.LabelPhoto {
			continue // she looks at it: it asks for no reply
		}
		var h heardLine
		switch label, _ := g.script.Label(m.Text); label {
		case story.LabelQuestion:
			h = heardLine{label: label}
		case story.LabelInterruption, story.LabelGoodbye:
			reply, _ := g.reply(label)
			h = heardLine{label: label, reply: reply}
		default:
			l.hangUp(codeNotInScript, "grandma does not know what to say to that")
			return "a line she does not answer"
		}
		if !hand(h) {
			return "the call was over"
		}
		if h.label == story.LabelGoodbye {
			return "" // nothing comes after it
		}
	}
}

// speak is the only goroutine that writes grandma's lines, on every stream
// of the session: she says one at a time. It tells the story one sentence
// every Pace once she has heard the question, says each reply the moment
// listen, or an urgent stream, hands it over (an urgent line's on its own
// stream, which it then ends), says the afterthought when she remembers
// it, and ends her side of the call's stream after her farewell.
func (g *Grandma) speak(ctx context.Context, l *line, heard, urgent <-chan heardLine) (outcome string) {
	afterthought := time.NewTimer(g.script.AfterthoughtAt - g.rec.Now())
	defer afterthought.Stop()
	var over <-chan time.Time
	if g.callLimit > 0 {
		t := time.NewTimer(g.callLimit)
		defer t.Stop()
		over = t.C
	}
	sentence := time.NewTimer(0)
	sentence.Stop() // started when she hears the question
	defer sentence.Stop()
	failed := func(err error) string {
		if l.closing.Load() {
			return "" // listen has hung up, and says why
		}
		return "dropped: " + err.Error()
	}
	var telling bool // she has begun the story
	var storyStart time.Duration
	next := 0         // the next sentence to tell
	var remember bool // the afterthought is due, once the story is over
	afterthoughtDue := func() error {
		if !remember || !telling || next < len(g.script.Story) {
			return nil
		}
		remember = false
		return g.say(l.str, g.want(story.LabelAfterthought, g.script.Afterthought))
	}
	for {
		select {
		case h, ok := <-heard:
			if !ok {
				return "" // the stream is gone: listen says why
			}
			switch h.label {
			case story.LabelQuestion:
				if telling {
					continue // she is telling it already, or has told it
				}
				telling, storyStart = true, g.rec.Now()
				sentence.Reset(0)
			case story.LabelGoodbye:
				if err := g.say(l.str, h.reply); err != nil {
					return failed(err)
				}
				if g.handOver != nil {
					g.handOver(g.rec.Finish())
				}
				// Her side of the stream ends with her farewell (a FIN).
				if err := l.str.Close(); err != nil {
					return failed(err)
				}
				return "ok"
			default:
				if err := g.say(l.str, h.reply); err != nil {
					return failed(err)
				}
			}
		case h := <-urgent:
			// Her answer goes back on the urgent line's stream, which it
			// ends (a FIN). A stream the grandchild gave up on costs her
			// nothing but the answer: the call goes on.
			if err := g.say(h.urgent, h.reply); err != nil {
				h.urgent.CancelWrite(streamGone)
				continue
			}
			_ = h.urgent.Close()
		case <-sentence.C:
			if err := g.say(l.str, g.want(story.LabelStory, g.script.Story[next])); err != nil {
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
		case <-over:
			l.hangUp(codeOutlasted, fmt.Sprintf("a call lasts at most %v", g.callLimit.Round(time.Millisecond)))
			return fmt.Sprintf("dropped: the call outlasted its script (%v at most)", g.callLimit.Round(time.Millisecond))
		case <-ctx.Done():
			l.hangUp(codeGoingAway, "grandma has to go")
			return "cut: grandma had to go"
		}
	}
}

// acceptUrgent takes the session's other streams, each an urgent line's,
// until the session or ctx ends: at most as many as the script has urgent
// lines, bounded by the call's lines besides (maxLines); past that, she
// refuses a stream (streamTooMany). Each is heard on a goroutine of its
// own (hearUrgent); it returns once they have all ended.
func (g *Grandma) acceptUrgent(ctx context.Context, l *line, urgent chan<- heardLine, spoken <-chan struct{}) {
	var hearing sync.WaitGroup
	defer hearing.Wait()
	allowed := urgentCount(g.script)
	for taken := 0; ; taken++ {
		str, err := l.sess.AcceptStream(ctx)
		if err != nil {
			return // the session, or the call, is over
		}
		if taken >= allowed {
			refuse(str, streamTooMany)
			continue
		}
		hearing.Go(func() { g.hearUrgent(ctx, l, str, urgent, spoken) })
	}
}

// hearUrgent hears the one line of an urgent stream, bounded by readWait,
// and hands it to speak, who answers on that stream, unless speak has
// ended (spoken is closed). A stream that is not one urgent line of the
// script, and its end, she refuses with a code saying why; the call goes
// on.
func (g *Grandma) hearUrgent(ctx context.Context, l *line, str *wt.Stream, urgent chan<- heardLine, spoken <-chan struct{}) {
	if err := str.SetReadDeadline(time.Now().Add(g.readWait)); err != nil {
		refuse(str, streamSilent)
		return
	}
	r := newLineReader(str)
	text, err := readLine(r)
	if err == nil {
		if _, more := r.ReadByte(); more != io.EOF {
			err = more
			if more == nil {
				err = errNotOneLine
			}
		}
	}
	switch {
	case errors.Is(err, errTooLong):
		refuse(str, streamTooLong)
		return
	case errors.Is(err, os.ErrDeadlineExceeded):
		refuse(str, streamSilent)
		return
	case errors.Is(err, errNotOneLine), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		refuse(str, streamNotALine)
		return
	case err != nil:
		return // the stream, or the session, is gone
	}
	label, _ := g.script.Label(text)
	if !g.script.Urgent(label) {
		refuse(str, streamNotUrgent)
		return
	}
	if !l.heardOne(g.maxLines) {
		refuse(str, streamTooMany)
		return
	}
	if _, err := l.ear.Hear(ctx, text); err != nil {
		refuse(str, streamNotUrgent)
		return
	}
	reply, ok := g.reply(label)
	if !ok {
		_ = str.Close() // nothing to say to it
		return
	}
	select {
	case urgent <- heardLine{label: label, reply: reply, urgent: str}:
	case <-spoken:
	}
}

// urgentCount returns how many of s's lines are urgent: as many streams
// of their own as a call may open.
func urgentCount(s story.Script) int {
	n := 0
	for _, c := range s.Cues() {
		if s.Urgent(c.Label) {
			n++
		}
	}
	return n
}

// errNotOneLine: an urgent stream that goes on after its line.
var errNotOneLine = errors.New("an urgent stream carries one line")

// refuse resets both sides of an urgent stream with code.
func refuse(str *wt.Stream, code wt.StreamErrorCode) {
	str.CancelRead(code)
	str.CancelWrite(code)
}

// reply returns what grandma answers to a line, if anything: the answer to
// the interruption, her farewell to the goodbye.
func (g *Grandma) reply(label string) (utterance, bool) {
	switch label {
	case story.LabelInterruption:
		return g.want(story.LabelAnswer, g.script.Answer), true
	case story.LabelGoodbye:
		return g.want(story.LabelFarewell, g.script.Farewell), true
	}
	return utterance{}, false
}

// say writes one line on the stream.
func (g *Grandma) say(str *wt.Stream, u utterance) error {
	g.rec.Sent(u.id)
	return writeLine(str, u.text, 0)
}
