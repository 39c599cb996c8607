package rawtcp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// Grandma answers calls on bare TCP. She tells her story at her own pace,
// answers an interruption the moment she hears it, and says her
// afterthought when she thinks of it: nobody has to ask first, because
// nothing but her own writer decides when she writes.
//
// Mode's local role makes one for a call in this process. NewGrandma makes
// one for a call from a grandchild elsewhere (duplexdemo serve): she records
// on a clock of her own, bounds the call by its script whatever the
// grandchild does, and hands her record of the call over as one last line
// after her farewell, before her half-close.
type Grandma struct {
	script story.Script
	rec    *timeline.Recorder
	// readWait bounds the silence between two of the grandchild's lines.
	readWait time.Duration
	// closeWait bounds how long she reads on, after her farewell and her
	// half-close, for the grandchild's end of the stream.
	closeWait time.Duration
	// callLimit, if set, bounds the whole call.
	callLimit time.Duration
	// maxLines, if set, bounds the lines she hears in one call.
	maxLines int
	// handOver says she hands her record over after her farewell.
	handOver bool
	// latency is the emulated link on her side, for her record.
	latency time.Duration
}

// Served is how a grandma for a grandchild elsewhere behaves on the
// network.
type Served struct {
	// Latency is the emulated link on the server's side, which her waits
	// allow for.
	Latency time.Duration
	// MaxLines bounds the lines one call may say to her; over it she hangs
	// up. 0 sets no bound.
	MaxLines int
	// Silence bounds the time between two of the grandchild's lines; past
	// it she hangs up. 0 allows the script's length, 10 s and a round trip
	// of the link.
	Silence time.Duration
	// Limit bounds the whole call; past it she hangs up. 0 sets no bound.
	Limit time.Duration
	// CloseWait bounds how long she reads on after her half-close for the
	// grandchild's; 0 waits a second and a round trip of the link.
	CloseWait time.Duration
}

// NewGrandma returns grandma for one call from a grandchild elsewhere, who
// asked for script s. rec must be her own recorder
// (timeline.NewSideRecorder for the server, with the script's labels).
// ServeConn takes the call.
func NewGrandma(s story.Script, rec *timeline.Recorder, o Served) *Grandma {
	g := &Grandma{
		script:    s,
		rec:       rec,
		readWait:  o.Silence,
		closeWait: o.CloseWait,
		callLimit: o.Limit,
		maxLines:  o.MaxLines,
		handOver:  true,
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

// heardLine is what grandma's reader hands her writer: the label of a line
// she heard, and her reply to it when she has one.
type heardLine struct {
	label string
	reply utterance
}

func (g *Grandma) want(label, text string) utterance {
	return utterance{g.rec.Want(timeline.Server, label, text, timeline.ReasonChannelBusy), label, text}
}

// Serve takes each connection ln accepts as one call, until ctx ends. Then
// it closes ln and every call's connection, and returns nil once every
// call is over. It returns an error if ln fails before that.
func (g *Grandma) Serve(ctx context.Context, ln net.Listener) error {
	defer context.AfterFunc(ctx, func() { _ = ln.Close() })()
	var calls sync.WaitGroup
	defer calls.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("grandma stopped taking calls: %w", err)
		}
		calls.Go(func() { g.serveCall(ctx, conn) })
	}
}

// ServeConn takes one call on conn, a connection switched to lines
// (Switch), and closes conn when the call is over or when ctx ends. conn
// should half-close (CloseWrite); where it cannot, she closes it after her
// farewell. It says how the call ended: "ok" when it ended with her
// farewell, and otherwise why it ended ("dropped: ...", "cut: ...").
func (g *Grandma) ServeConn(ctx context.Context, conn net.Conn) string { return g.serveCall(ctx, conn) }

// serveCall takes one call on conn, and closes conn when it is over or
// when ctx ends. It says how the call ended, as ServeConn does.
func (g *Grandma) serveCall(ctx context.Context, conn net.Conn) string {
	defer conn.Close()
	defer context.AfterFunc(ctx, func() { _ = conn.Close() })() // cut, whatever either side is doing
	heard := make(chan heardLine)
	spoken := make(chan struct{})
	listened := make(chan struct{})
	var dropped string
	go func() {
		defer close(listened)
		dropped = g.listen(conn, heard, spoken)
	}()
	outcome := g.speak(ctx, conn, heard)
	close(spoken)
	if outcome == "ok" {
		// Her side is shut. She reads on to the grandchild's end of the
		// stream, so that closing loses nothing either side wrote: closing
		// a connection with bytes unread resets it. A moment at most.
		t := time.NewTimer(g.closeWait)
		select {
		case <-listened:
		case <-t.C:
		}
		t.Stop()
	}
	_ = conn.Close() // ends listen, if the grandchild has not already
	<-listened
	if outcome == "" {
		outcome = "dropped: " + dropped
	}
	return outcome
}

// listen is the only goroutine that reads from conn. It hears each line,
// works out grandma's reply at once, and hands both to speak, unless speak
// has ended (spoken is closed). After the goodbye it reads on to the end
// of the stream. It closes heard when it returns, and says why the call
// ended: "" when it ended with the goodbye and the end of the stream.
func (g *Grandma) listen(conn net.Conn, heard chan<- heardLine, spoken <-chan struct{}) (why string) {
	defer close(heard)
	hand := func(h heardLine) bool {
		select {
		case heard <- h:
			return true
		case <-spoken:
			return false
		}
	}
	r := newLineReader(conn, g.script.MaxGrandchildLine(call.MaxLine)) // her photo, if she sends one
	bye := false
	lines := 0
	for {
		if err := setReadDeadline(conn, g.readWait); err != nil {
			return err.Error()
		}
		text, err := readLine(r)
		if err != nil {
			if bye && errors.Is(err, io.EOF) {
				return ""
			}
			return g.readFailure(err)
		}
		if bye {
			return "a line after the goodbye"
		}
		if lines++; g.maxLines > 0 && lines > g.maxLines {
			return fmt.Sprintf("too many lines: a call says at most %d", g.maxLines)
		}
		m, err := g.rec.Heard(timeline.Client, text)
		if err != nil {
			return "a line that was never sent"
		}
		if m.Label == story.LabelPhoto {
			continue // she looks at it: it asks for no reply
		}
		var h heardLine
		switch label, _ := g.script.Label(m.Text); label {
		case story.LabelQuestion:
			h = heardLine{label: label}
		case story.LabelInterruption:
			h = heardLine{label: label, reply: g.want(story.LabelAnswer, g.script.Answer)}
		case story.LabelGoodbye:
			h, bye = heardLine{label: label, reply: g.want(story.LabelFarewell, g.script.Farewell)}, true
		default:
			return "a line she does not answer"
		}
		if !hand(h) {
			return "the call was over"
		}
	}
}

// readFailure says why reading the grandchild's next line failed.
func (g *Grandma) readFailure(err error) string {
	switch {
	case errors.Is(err, errLineTooLong):
		return err.Error()
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Sprintf("the grandchild said nothing for %v", g.readWait.Round(time.Millisecond))
	case errors.Is(err, io.EOF):
		return "the grandchild hung up before her goodbye"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the grandchild hung up mid-line"
	case errors.Is(err, net.ErrClosed):
		return "the call was over"
	}
	return err.Error()
}

// speak is the only goroutine that writes to conn. It tells the story one
// sentence every Pace, says each reply the moment listen hands it over,
// says the afterthought when grandma remembers it, and answers the goodbye
// with her farewell (and her record, for a grandchild elsewhere) and a
// half-close. With a call limit, she hangs up when the call outlasts it,
// whatever the grandchild does.
func (g *Grandma) speak(ctx context.Context, conn net.Conn, heard <-chan heardLine) (outcome string) {
	afterthought := time.NewTimer(g.script.AfterthoughtAt - g.rec.Now())
	defer afterthought.Stop()
	var over <-chan time.Time
	if g.callLimit > 0 {
		t := time.NewTimer(g.callLimit)
		defer t.Stop()
		over = t.C
	}
	// failed says why a write failed.
	failed := func(err error) string {
		if ctx.Err() != nil {
			return "cut: grandma had to go"
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return "dropped: the grandchild stopped reading"
		}
		return "dropped: " + err.Error()
	}
	sentence := time.NewTimer(0)
	sentence.Stop() // started when she hears the question
	defer sentence.Stop()
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
		return g.say(conn, g.want(story.LabelAfterthought, g.script.Afterthought))
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
				if err := g.say(conn, h.reply); err != nil {
					return failed(err)
				}
				if g.handOver {
					if err := g.handRecordOver(conn); err != nil {
						return failed(err)
					}
				}
				hangUp(conn)
				return "ok"
			default:
				if err := g.say(conn, h.reply); err != nil {
					return failed(err)
				}
			}
		case <-sentence.C:
			if err := g.say(conn, g.want(story.LabelStory, g.script.Story[next])); err != nil {
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
			return fmt.Sprintf("dropped: the call outlasted its script (%v at most)", g.callLimit.Round(time.Millisecond))
		case <-ctx.Done():
			return "cut: grandma had to go"
		}
	}
}

// handRecordOver ends her record of the call and writes it as one line of
// JSON after her farewell, for a grandchild elsewhere to show her side too.
func (g *Grandma) handRecordOver(conn net.Conn) error {
	rec, err := wire.EncodeRecord(g.rec.Finish(), wire.Facts{Connections: 1, Latency: g.latency})
	if err != nil {
		return err
	}
	return writeRecord(conn, rec)
}

// hangUp shuts grandma's side of the connection once her farewell is
// written: a half-close, which the grandchild reads as the end of the
// stream right after the farewell, while grandma can still read what the
// grandchild wrote. Where the connection cannot half-close she closes it:
// she has heard the goodbye, and nothing is to follow it.
func hangUp(conn net.Conn) {
	if closeWrite(conn) != nil {
		_ = conn.Close()
	}
}

// say writes one line.
func (g *Grandma) say(conn net.Conn, u utterance) error {
	g.rec.Sent(u.id)
	return writeLine(conn, u.text, call.MaxLine)
}
