package fullduplex

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// grandchild calls grandma on the phone and says each line the moment the
// script wants it said, while grandma's lines keep arriving.
type grandchild struct {
	script story.Script
	rec    *timeline.Recorder
	dialer *websocket.Dialer
	url    string
	// closeWait bounds the wait for grandma's close frame after goodbye.
	closeWait time.Duration
	// readWait bounds the silence between two of grandma's messages.
	readWait time.Duration
	// progress follows the story as she hears it.
	progress *story.Progress
	// remote is set when grandma is elsewhere: her record of the call
	// arrives in a last text message, which listen keeps here.
	remote *elsewhere
}

// elsewhere holds grandma's record of a call to her elsewhere.
type elsewhere struct {
	log []byte // written by listen only, read after it has returned
}

func (c *grandchild) want(label, text, reason string) utterance {
	return utterance{c.rec.Want(timeline.Client, label, text, reason), label, text}
}

// call places the call. It wants the question at once, while the
// WebSocket is still opening, and each later line when the script says
// (think); it speaks from this goroutine, the only writer, while listen
// reads on another, the only reader, and hangs up with a close handshake.
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

	var header http.Header
	if c.remote != nil {
		header = http.Header{wire.HeaderVersion: {strconv.Itoa(wire.Version)}}
	}
	conn, resp, err := c.dialer.DialContext(ctx, c.url, header)
	if err != nil {
		if resp != nil {
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
			resp.Body.Close()
			if c.remote != nil && resp.Header.Get(wire.HeaderVersion) == "" {
				return fmt.Errorf("%s is not duplexdemo serve: it answered the call with %s", resp.Request.URL.Host, resp.Status)
			}
			return fmt.Errorf("calling grandma: she answered %s: %s", resp.Status, strings.TrimSpace(string(msg)))
		}
		return fmt.Errorf("calling grandma: %w", err)
	}
	defer conn.Close()
	if c.remote != nil {
		if err := wire.CheckVersion(resp.Header.Get(wire.HeaderVersion), "server"); err != nil {
			return err
		}
	}
	c.rec.Record(timeline.Client, timeline.KindConnect, "the WebSocket is open")
	conn.SetReadLimit(call.MaxLine)
	if c.remote != nil {
		conn.SetReadLimit(wire.MaxRecord)
	}

	var listenErr error
	listened := make(chan struct{})
	go func() {
		defer close(listened)
		listenErr = c.listen(conn)
	}()
	err = c.speak(ctx, conn, wants, listened)
	conn.Close() // ends listen, if grandma has not already
	<-listened
	if listenErr != nil && (err == nil || errors.Is(err, errHungUpEarly)) {
		err = listenErr // what went wrong on grandma's side says more
	}
	return err
}

// errHungUpEarly: grandma ended the call before the goodbye.
var errHungUpEarly = errors.New("grandma hung up before the goodbye")

// think wants each later line of her schedule at its time, but not before
// the story has reached its milestone on her side of the link, whatever
// the writer is doing, and hands them to speak in order. By then the
// WebSocket is open, so a wait means the writer is busy.
func (c *grandchild) think(ctx context.Context, cues []story.Cue, wants chan<- utterance) {
	defer close(wants)
	for _, cue := range cues {
		if c.rec.Await(ctx, cue.At, c.progress.Reached(cue.After)) != nil {
			return
		}
		wants <- c.want(cue.Label, cue.Text, timeline.ReasonChannelBusy) // buffered for every line: never blocks
	}
}

// speak is the only goroutine that writes to conn, as gorilla requires. It
// says each line as soon as it is wanted, without waiting for grandma to
// finish anything, and hangs up when the goodbye comes.
func (c *grandchild) speak(ctx context.Context, conn *websocket.Conn, wants <-chan utterance, listened <-chan struct{}) error {
	for {
		select {
		case u, ok := <-wants:
			if !ok {
				return ctx.Err() // think gave up: the call is being stopped
			}
			if u.label == story.LabelGoodbye {
				return c.hangUp(ctx, conn, u, listened)
			}
			if err := c.say(conn, u); err != nil {
				return err
			}
		case <-listened:
			return errHungUpEarly
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// hangUp says goodbye in a close frame (1000, normal closure) and waits,
// at most c.closeWait, for grandma's close frame in reply.
func (c *grandchild) hangUp(ctx context.Context, conn *websocket.Conn, bye utterance, listened <-chan struct{}) error {
	c.rec.Sent(bye.id)
	if err := write(conn, websocket.CloseMessage, closeFrame(websocket.CloseNormalClosure, bye.text)); err != nil {
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

// say writes one line as a text message.
func (c *grandchild) say(conn *websocket.Conn, u utterance) error {
	c.rec.Sent(u.id)
	if err := write(conn, websocket.TextMessage, []byte(u.text)); err != nil {
		return fmt.Errorf("saying the %s: %w", u.label, err)
	}
	return nil
}

// listen is the only goroutine that reads from conn. It hears each of
// grandma's lines and her farewell, which comes in her close frame; it
// returns nil when she closes the call normally.
func (c *grandchild) listen(conn *websocket.Conn) error {
	conn.SetCloseHandler(func(code int, text string) error {
		if code != websocket.CloseNormalClosure {
			return fmt.Errorf("grandma hung up with code %d: %s", code, text)
		}
		_, err := c.rec.Heard(timeline.Server, text)
		return err
	})
	for {
		if err := conn.SetReadDeadline(time.Now().Add(c.readWait)); err != nil {
			return fmt.Errorf("hearing grandma: %w", err)
		}
		kind, data, err := conn.ReadMessage()
		if err != nil {
			if websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				return nil
			}
			return fmt.Errorf("hearing grandma: %w", err)
		}
		if kind != websocket.TextMessage {
			return fmt.Errorf("grandma sent a message of type %d; only text was expected", kind)
		}
		if c.remote != nil && strings.HasPrefix(string(data), wire.RecordPrefix) {
			c.remote.log = data
			continue
		}
		m, err := c.rec.Heard(timeline.Server, string(data))
		if err != nil {
			return err
		}
		c.progress.Heard(m.Label)
	}
}
