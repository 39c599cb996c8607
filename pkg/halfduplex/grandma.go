package halfduplex

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// grandma answers the grandchild over HTTP. She may speak only in reply to a
// request: what she wants to say between requests waits in pending until
// the next response she writes.
type grandma struct {
	script story.Script
	rec    *timeline.Recorder

	mu      sync.Mutex
	pending []utterance
}

// utterance is a line someone wants to say, and the message it was
// recorded as.
type utterance struct {
	id   timeline.MsgID
	text string
}

func (g *grandma) want(label, text string) utterance {
	return utterance{g.rec.Want(timeline.Server, label, text, ReasonNoRequest), text}
}

// ServeHTTP hears one line from the grandchild and answers it: the story,
// streamed sentence by sentence, for the question; an answer for the
// interruption; her farewell for the goodbye. Whatever she was waiting to
// say rides along at the end.
func (g *grandma) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != Path {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "say something to grandma with POST", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxMessage))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, fmt.Sprintf("a line may be at most %d bytes", MaxMessage), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "could not read the request body", http.StatusBadRequest)
		return
	}
	heard, err := g.rec.Heard(timeline.Client, string(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	label, ok := g.script.Label(heard.Text)
	if !ok {
		http.Error(w, fmt.Sprintf("grandma does not know what to say to %q", heard.Text), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	rc := http.NewResponseController(w)
	switch label {
	case story.LabelQuestion:
		err = g.tellStory(r.Context(), w, rc)
	case story.LabelInterruption:
		err = g.say(w, rc, g.want(story.LabelAnswer, g.script.Answer))
	case story.LabelGoodbye:
		if err = g.sayPending(w, rc); err == nil {
			err = g.say(w, rc, g.want(story.LabelFarewell, g.script.Farewell))
		}
	}
	if err == nil {
		err = g.sayPending(w, rc)
	}
	if err != nil {
		// The response has started; all that is left is to abandon it.
		panic(http.ErrAbortHandler)
	}
}

// tellStory streams the story, one sentence every Pace, flushing each so
// that it goes on the wire when she says it.
func (g *grandma) tellStory(ctx context.Context, w http.ResponseWriter, rc *http.ResponseController) error {
	start := g.rec.Now()
	for i, sentence := range g.script.Story {
		if err := g.rec.SleepUntil(ctx, start+g.script.Pace*time.Duration(i)); err != nil {
			return err
		}
		if err := g.say(w, rc, g.want(story.LabelStory, sentence)); err != nil {
			return err
		}
	}
	return nil
}

// say writes one line of the response and flushes it onto the connection.
func (g *grandma) say(w http.ResponseWriter, rc *http.ResponseController, u utterance) error {
	g.rec.Sent(u.id)
	if _, err := io.WriteString(w, u.text+"\n"); err != nil {
		return err
	}
	return rc.Flush()
}

// sayPending says, in this response, what she has been waiting to say.
func (g *grandma) sayPending(w http.ResponseWriter, rc *http.ResponseController) error {
	g.mu.Lock()
	pending := g.pending
	g.pending = nil
	g.mu.Unlock()
	for _, u := range pending {
		if err := g.say(w, rc, u); err != nil {
			return err
		}
	}
	return nil
}

// remember waits for the moment grandma remembers the county fair. She
// wants to say it at once, but with no request to answer she can only keep
// it for the next response.
func (g *grandma) remember(ctx context.Context) {
	if g.rec.SleepUntil(ctx, g.script.AfterthoughtAt) != nil {
		return
	}
	u := g.want(story.LabelAfterthought, g.script.Afterthought)
	g.mu.Lock()
	g.pending = append(g.pending, u)
	g.mu.Unlock()
}
