package fullduplex

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// grandchild calls grandma on the phone and says each line the moment the
// script wants it said, while grandma's lines keep arriving.
type grandchild struct {
	script story.Script
	rec    *timeline.Recorder
	dialer *websocket.Dialer
	url    string
}

func (c *grandchild) want(label, text, reason string) utterance {
	return utterance{c.rec.Want(timeline.Client, label, text, reason), label, text}
}

// call places the call, speaks from this goroutine (the only writer) while
// listen reads on another (the only reader), and hangs up with a close
// handshake.
func (c *grandchild) call(ctx context.Context) error {
	question := c.want(story.LabelQuestion, c.script.Question, ReasonConnecting)
	conn, resp, err := c.dialer.DialContext(ctx, c.url, nil)
	if err != nil {
		if resp != nil {
			return fmt.Errorf("calling grandma: %w (she answered %s)", err, resp.Status)
		}
		return fmt.Errorf("calling grandma: %w", err)
	}
	defer conn.Close()
	c.rec.Record(timeline.Client, timeline.KindConnect, "the WebSocket is open")
	conn.SetReadLimit(MaxMessage)

	var listenErr error
	listened := make(chan struct{})
	go func() {
		defer close(listened)
		listenErr = c.listen(conn)
	}()
	err = c.speak(ctx, conn, question, listened)
	conn.Close() // ends listen, if grandma has not already
	<-listened
	if err == nil {
		err = listenErr
	}
	return err
}

// speak is the only goroutine that writes to conn, as gorilla requires. It
// asks the question, interrupts and says goodbye at the scripted times,
// without waiting for grandma to finish anything.
func (c *grandchild) speak(ctx context.Context, conn *websocket.Conn, question utterance, listened <-chan struct{}) error {
	if err := c.say(conn, question); err != nil {
		return err
	}
	if err := c.sleepUntil(ctx, c.script.InterruptAt, listened); err != nil {
		return err
	}
	if err := c.say(conn, c.want(story.LabelInterruption, c.script.Interruption, ReasonChannelBusy)); err != nil {
		return err
	}
	if err := c.sleepUntil(ctx, c.script.GoodbyeAt, listened); err != nil {
		return err
	}
	bye := c.want(story.LabelGoodbye, c.script.Goodbye, ReasonChannelBusy)
	c.rec.Sent(bye.id)
	conn.SetWriteDeadline(time.Now().Add(writeWait))
	if err := conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, bye.text)); err != nil {
		return fmt.Errorf("saying goodbye: %w", err)
	}
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-listened:
		return nil
	case <-t.C:
		return fmt.Errorf("grandma did not answer the goodbye within %v", closeWait)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sleepUntil waits until the call's clock reads at. It gives up when ctx
// ends or when the listener has ended: grandma hung up.
func (c *grandchild) sleepUntil(ctx context.Context, at time.Duration, listened <-chan struct{}) error {
	t := time.NewTimer(at - c.rec.Now())
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-listened:
		return errors.New("grandma hung up before the goodbye")
	}
}

// say writes one line as a text message.
func (c *grandchild) say(conn *websocket.Conn, u utterance) error {
	c.rec.Sent(u.id)
	conn.SetWriteDeadline(time.Now().Add(writeWait))
	if err := conn.WriteMessage(websocket.TextMessage, []byte(u.text)); err != nil {
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
		conn.SetReadDeadline(time.Now().Add(readWait))
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
		if _, err := c.rec.Heard(timeline.Server, string(data)); err != nil {
			return err
		}
	}
}
