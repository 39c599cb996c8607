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

	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// Grandma answers calls on bare TCP. She tells her story at her own pace,
// answers an interruption the moment she hears it, and says her
// afterthought when she thinks of it: nobody has to ask first, because
// nothing but her own writer decides when she writes.
type Grandma struct {
	script story.Script
	rec    *timeline.Recorder
	// readWait bounds the silence between two of the grandchild's lines.
	readWait time.Duration
	// closeWait bounds how long she reads on, after her farewell and her
	// half-close, for the grandchild's end of the stream.
	closeWait time.Duration
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

// serveCall takes one call on conn, and closes conn when it is over or
// when ctx ends. It says how the call ended: "ok" when it ended with her
// farewell, and otherwise why it ended ("dropped: ...", "cut: ...").
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
	r := newLineReader(conn)
	bye := false
	for {
		if err := conn.SetReadDeadline(time.Now().Add(g.readWait)); err != nil {
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
		m, err := g.rec.Heard(timeline.Client, text)
		if err != nil {
			return "a line that was never sent"
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
// with her farewell and a half-close.
func (g *Grandma) speak(ctx context.Context, conn net.Conn, heard <-chan heardLine) (outcome string) {
	afterthought := time.NewTimer(g.script.AfterthoughtAt - g.rec.Now())
	defer afterthought.Stop()
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
		case <-ctx.Done():
			return "cut: grandma had to go"
		}
	}
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
	return writeLine(conn, u.text)
}
