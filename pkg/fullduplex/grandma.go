package fullduplex

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// grandma answers the phone. She tells her story at her own pace, answers
// an interruption the moment she hears it, and says her afterthought when
// she thinks of it: nobody has to ask first.
type grandma struct {
	script   story.Script
	rec      *timeline.Recorder
	upgrader websocket.Upgrader
	// readWait bounds the silence between two of the grandchild's messages.
	readWait time.Duration
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

func (g *grandma) want(label, text string) utterance {
	return utterance{g.rec.Want(timeline.Server, label, text, ReasonChannelBusy), label, text}
}

// ServeHTTP takes one call: it upgrades the request to a WebSocket and
// talks until the grandchild says goodbye.
func (g *grandma) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != Path {
		http.NotFound(w, r)
		return
	}
	conn, err := g.upgrader.Upgrade(w, r, nil) // on failure it has replied
	if err != nil {
		return
	}
	defer conn.Close()
	conn.SetReadLimit(MaxMessage)
	heard := make(chan heardLine)
	spoken := make(chan struct{})
	listened := make(chan struct{})
	go func() {
		defer close(listened)
		g.listen(conn, heard, spoken)
	}()
	g.speak(r.Context(), conn, heard)
	close(spoken)
	conn.Close() // ends listen, if the peer has not already
	<-listened
}

// listen is the only goroutine that reads from conn. It hears each line,
// works out grandma's reply at once, and hands both to speak, unless speak
// has ended (spoken is closed). It closes heard when the call is over.
func (g *grandma) listen(conn *websocket.Conn, heard chan<- heardLine, spoken <-chan struct{}) {
	defer close(heard)
	hand := func(h heardLine) bool {
		select {
		case heard <- h:
			return true
		case <-spoken:
			return false
		}
	}
	conn.SetCloseHandler(func(code int, text string) error {
		if code != websocket.CloseNormalClosure {
			return fmt.Errorf("the grandchild hung up with code %d", code)
		}
		if _, err := g.rec.Heard(timeline.Client, text); err != nil {
			return err
		}
		hand(heardLine{label: story.LabelGoodbye, reply: g.want(story.LabelFarewell, g.script.Farewell)})
		return nil
	})
	for {
		if err := conn.SetReadDeadline(time.Now().Add(g.readWait)); err != nil {
			return
		}
		kind, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		if kind != websocket.TextMessage {
			g.refuse(conn, websocket.CloseUnsupportedData, "grandma only hears text messages")
			return
		}
		m, err := g.rec.Heard(timeline.Client, string(data))
		if err != nil {
			g.refuse(conn, websocket.CloseProtocolError, "grandma did not expect that")
			return
		}
		switch label, _ := g.script.Label(m.Text); label {
		case story.LabelQuestion:
			if !hand(heardLine{label: label}) {
				return
			}
		case story.LabelInterruption:
			if !hand(heardLine{label: label, reply: g.want(story.LabelAnswer, g.script.Answer)}) {
				return
			}
		default:
			g.refuse(conn, websocket.CloseProtocolError, "grandma does not know what to say to that")
			return
		}
	}
}

// refuse closes the call with a code and a reason. WriteControl is the one
// write gorilla allows beside the writer goroutine. The call ends whether
// or not the close frame gets through, so its error changes nothing.
func (g *grandma) refuse(conn *websocket.Conn, code int, reason string) {
	_ = conn.WriteControl(websocket.CloseMessage, closeFrame(code, reason), time.Now().Add(writeWait))
}

// speak is the only goroutine that writes to conn, as gorilla requires. It
// tells the story one sentence every Pace, says each reply the moment
// listen hands it over, says the afterthought when grandma remembers it,
// and answers the goodbye with her own close frame.
func (g *grandma) speak(ctx context.Context, conn *websocket.Conn, heard <-chan heardLine) {
	afterthought := time.NewTimer(g.script.AfterthoughtAt - g.rec.Now())
	defer afterthought.Stop()
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
				return // the connection is gone
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
				// Her close frame ends the call whether or not it arrives.
				_ = write(conn, websocket.CloseMessage, closeFrame(websocket.CloseNormalClosure, h.reply.text))
				return
			default:
				if g.say(conn, h.reply) != nil {
					return
				}
			}
		case <-sentence.C:
			if g.say(conn, g.want(story.LabelStory, g.script.Story[next])) != nil {
				return
			}
			if next++; next < len(g.script.Story) {
				sentence.Reset(storyStart + g.script.Pace*time.Duration(next) - g.rec.Now())
			}
			if afterthoughtDue() != nil {
				return
			}
		case <-afterthought.C:
			// She remembers the fair at its scripted time, or when her story
			// is over if she is still telling it then (a slow link delays it).
			remember = true
			if afterthoughtDue() != nil {
				return
			}
		case <-ctx.Done():
			// Going away (1001): the call ends whether or not this arrives.
			_ = write(conn, websocket.CloseMessage, closeFrame(websocket.CloseGoingAway, "grandma has to go"))
			return
		}
	}
}

// say writes one line as a text message.
func (g *grandma) say(conn *websocket.Conn, u utterance) error {
	g.rec.Sent(u.id)
	return write(conn, websocket.TextMessage, []byte(u.text))
}
