package rawtcp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// grandchild calls grandma on bare TCP and writes each line the moment the
// script wants it said, while grandma's lines keep arriving.
type grandchild struct {
	script story.Script
	rec    *timeline.Recorder
	// dial opens the connection through the emulated link.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	addr string
	// readWait bounds the silence between two of grandma's lines.
	readWait time.Duration
	// closeWait bounds the wait, after the goodbye, for grandma's farewell
	// and the end of her stream.
	closeWait time.Duration
	// progress follows the story as she hears it.
	progress *story.Progress
	// remote is set when grandma is elsewhere (duplexdemo serve): the
	// connection must be switched to lines first, and her record of the
	// call follows her farewell.
	remote *elsewhere
}

func (c *grandchild) want(label, text, reason string) utterance {
	return utterance{c.rec.Want(timeline.Client, label, text, reason), label, text}
}

var (
	// errHungUpEarly: grandma ended the call before the goodbye.
	errHungUpEarly = errors.New("grandma hung up before the goodbye")
	// errNoHangUp: grandma did not end her stream after the goodbye.
	errNoHangUp = errors.New("grandma did not say farewell and hang up")
)

// call places the call. It wants the question at once, while the TCP
// connection is still opening (and, to a grandma elsewhere, being switched
// to lines), and each later line when the script says (think); it speaks
// from this goroutine, the only writer, while listen reads on another, the
// only reader, and hangs up once grandma has said her farewell and shut
// her side of the connection.
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

	conn, err := c.dial(ctx, "tcp", c.addr)
	if err != nil {
		return fmt.Errorf("calling grandma: %w", err)
	}
	defer conn.Close()
	var r *bufio.Reader
	if c.remote != nil {
		if r, err = c.remote.upgrade(ctx, conn, c.remote.upgradeWait); err != nil {
			return err
		}
		c.rec.Record(timeline.Client, timeline.KindConnect, "grandma switched the connection to lines")
	} else {
		r = newLineReader(conn, call.MaxLine) // grandma's lines
	}

	var listenErr error
	listened := make(chan struct{})
	go func() {
		defer close(listened)
		listenErr = c.listen(conn, r)
	}()
	err = c.speak(ctx, conn, wants, listened)
	_ = conn.Close() // ends listen, if grandma has not already
	<-listened
	if listenErr != nil && (err == nil || errors.Is(err, errHungUpEarly)) {
		err = listenErr // what went wrong on grandma's side says more
	}
	return err
}

// think wants each later line of her schedule at its time, but not before
// the story has reached its milestone on her side of the link, whatever
// the writer is doing, and hands them to speak in order. By then the
// connection is open, so a wait means the writer is busy.
func (c *grandchild) think(ctx context.Context, cues []story.Cue, wants chan<- utterance) {
	defer close(wants)
	for _, cue := range cues {
		if c.rec.Await(ctx, cue.At, c.progress.Reached(cue.After)) != nil {
			return
		}
		wants <- c.want(cue.Label, cue.Text, timeline.ReasonChannelBusy) // buffered for every line: never blocks
	}
}

// speak is the only goroutine that writes to conn. It writes each line as
// soon as it is wanted, without waiting for grandma to finish anything,
// and hangs up after the goodbye.
func (c *grandchild) speak(ctx context.Context, conn net.Conn, wants <-chan utterance, listened <-chan struct{}) error {
	for {
		select {
		case u, ok := <-wants:
			if !ok {
				return ctx.Err() // think gave up: the call is being stopped
			}
			c.rec.Sent(u.id)
			if err := writeLine(conn, u.text, c.script.MaxGrandchildLine(call.MaxLine)); err != nil {
				return fmt.Errorf("saying the %s: %w", u.label, err)
			}
			if u.label == story.LabelGoodbye {
				return c.hangUp(ctx, conn, listened)
			}
		case <-listened:
			return errHungUpEarly
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// hangUp shuts her side of the connection after the goodbye, if it can (a
// half-close: grandma reads the goodbye, then the end of the stream), and
// waits, at most c.closeWait, for listen to hear grandma's farewell and the
// end of hers. Where the connection cannot half-close (the emulated link
// does not), grandma's end of the stream is what ends the call, and closing
// then loses nothing: grandma has said all she will.
func (c *grandchild) hangUp(ctx context.Context, conn net.Conn, listened <-chan struct{}) error {
	if err := closeWrite(conn); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("hanging up: %w", err)
	}
	t := time.NewTimer(c.closeWait)
	defer t.Stop()
	select {
	case <-listened:
		return nil
	case <-t.C:
		return fmt.Errorf("%w within %v of the goodbye", errNoHangUp, c.closeWait)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// listen is the only goroutine that reads from conn, through r. It hears
// each of grandma's lines, her farewell last, keeps her record of the call
// if she is elsewhere, and returns nil at the end of her stream after the
// farewell.
func (c *grandchild) listen(conn net.Conn, r *bufio.Reader) error {
	farewell := false
	for {
		if err := setReadDeadline(conn, c.readWait); err != nil {
			return fmt.Errorf("hearing grandma: %w", err)
		}
		if farewell && c.remote != nil && c.remote.log == nil {
			rec, err := readRecord(r)
			switch {
			case errors.Is(err, io.EOF):
				return nil // without her record: RunRemote says so
			case err != nil:
				return fmt.Errorf("hearing grandma's record of the call: %w", err)
			}
			c.remote.log = rec
			continue
		}
		text, err := readLine(r)
		switch {
		case err == nil:
		case errors.Is(err, io.EOF) && farewell:
			return nil
		case errors.Is(err, io.EOF):
			return errHungUpEarly
		case errors.Is(err, os.ErrDeadlineExceeded):
			return fmt.Errorf("hearing grandma: she said nothing for %v: %w", c.readWait.Round(time.Millisecond), err)
		default:
			return fmt.Errorf("hearing grandma: %w", err)
		}
		if farewell {
			return fmt.Errorf("grandma said %q after her farewell", text)
		}
		m, err := c.rec.Heard(timeline.Server, text)
		if err != nil {
			return err
		}
		c.progress.Heard(m.Label)
		farewell = m.Label == story.LabelFarewell
	}
}
