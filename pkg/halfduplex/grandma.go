package halfduplex

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// Grandma answers the grandchild over HTTP. She may speak only in reply to
// a request: what she wants to say between requests waits until the answer
// to the next request she hears.
//
// Mode's local role makes one for a call in this process. NewGrandma makes
// one for a call from a grandchild elsewhere (duplexdemo serve): she records
// on a clock of her own and, after her farewell, hands her record of the
// call over as the answer's last line (wire.EncodeRecord).
type Grandma struct {
	script story.Script
	rec    *timeline.Recorder
	// handOver says she hands her record over after her farewell.
	handOver bool
	// facts, if set, tells what her record says besides her events: the
	// connections that carried the call and her side's link.
	facts func() wire.Facts
	// told is closed when she has finished telling the story.
	told     chan struct{}
	toldOnce sync.Once
	// done is closed once she has answered the goodbye.
	done     chan struct{}
	doneOnce sync.Once

	rememberOnce sync.Once

	mu      sync.Mutex
	pending []utterance
}

func newGrandma(s story.Script, rec *timeline.Recorder) *Grandma {
	return &Grandma{script: s, rec: rec, told: make(chan struct{}), done: make(chan struct{})}
}

// NewGrandma returns grandma for one call from a grandchild elsewhere. rec
// must be her own recorder (timeline.NewSideRecorder for the server, with
// the script's labels). Serve each of the call's requests with ServeHTTP,
// run Remember beside them, and end the call when Done is closed.
func NewGrandma(s story.Script, rec *timeline.Recorder) *Grandma {
	g := newGrandma(s, rec)
	g.handOver = true
	return g
}

// Tell tells grandma what her record says besides her events: the
// connections that carried the call, and the emulated link on her side.
// Without it she says one connection and no link.
func (g *Grandma) Tell(facts func() wire.Facts) { g.facts = facts }

// Done is closed once grandma has answered the goodbye: the call is over.
func (g *Grandma) Done() <-chan struct{} { return g.done }

// utterance is a line someone wants to say, and the message it was
// recorded as.
type utterance struct {
	id   timeline.MsgID
	text string
}

func (g *Grandma) want(label, text string) utterance {
	return utterance{g.rec.Want(timeline.Server, label, text, ReasonNoRequest), text}
}

// ServeHTTP hears one line from the grandchild and answers it: the story,
// streamed sentence by sentence, for the question; an answer for the
// interruption; her farewell for the goodbye; nothing for the photo (204
// No Content). Whatever she was waiting to say when the request came rides
// along: after the answer, or before her farewell.
func (g *Grandma) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != Path {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "say something to grandma with POST", http.StatusMethodNotAllowed)
		return
	}
	// Her lines are short, but for the photo: she reads as much as it.
	maxLine := g.script.MaxGrandchildLine(call.MaxLine)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(maxLine)))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, fmt.Sprintf("a line may be at most %d bytes", maxLine), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "could not read the request body", http.StatusBadRequest)
		return
	}
	text := string(body)
	heard, err := g.rec.Heard(timeline.Client, text)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	label, ok := g.script.Label(text) // the photo's own text: the timeline keeps it short
	if !ok {
		http.Error(w, fmt.Sprintf("grandma does not know what to say to %q", heard.Text), http.StatusBadRequest)
		return
	}
	// What she was waiting to say by the time she heard this request rides
	// on its answer; what she thinks of while answering waits for the next.
	// The goodbye is her last chance: if the afterthought's time has come
	// and her story is told, she has thought of it, even if Remember's timer
	// has not run yet on a busy machine.
	if label == story.LabelGoodbye && g.rec.Now() >= g.script.AfterthoughtAt && isClosed(g.told) {
		g.remember()
	}
	pending := g.takePending()
	if g.handOver {
		w.Header().Set(wire.HeaderVersion, strconv.Itoa(wire.Version))
	}
	if label == story.LabelPhoto && len(pending) == 0 {
		// She looks at it: it asks for no reply, and she has nothing
		// else to say.
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	rc := http.NewResponseController(w)
	switch label {
	case story.LabelQuestion:
		err = g.tellStory(r.Context(), w, rc)
		g.toldOnce.Do(func() { close(g.told) })
	case story.LabelPhoto:
		// She looks at it: it asks for no reply. What she was waiting
		// to say rides on this answer, as on any other.
	case story.LabelInterruption:
		err = g.say(w, rc, g.want(story.LabelAnswer, g.script.Answer))
	case story.LabelGoodbye:
		// Her last chance to say anything: before her farewell.
		err = g.sayAll(w, rc, pending)
		pending = nil
		if err == nil {
			err = g.say(w, rc, g.want(story.LabelFarewell, g.script.Farewell))
		}
		if err == nil && g.handOver {
			err = g.handLogOver(w, rc)
		}
		g.doneOnce.Do(func() { close(g.done) })
	}
	if err == nil {
		err = g.sayAll(w, rc, pending)
	}
	if err != nil {
		// The response has started; all that is left is to abandon it.
		panic(http.ErrAbortHandler)
	}
}

// handLogOver ends her record of the call and writes it as the answer's
// last line, for a grandchild elsewhere to show her side too.
func (g *Grandma) handLogOver(w http.ResponseWriter, rc *http.ResponseController) error {
	f := wire.Facts{Connections: 1}
	if g.facts != nil {
		f = g.facts()
	}
	log, err := wire.EncodeRecord(g.rec.Finish(), f)
	if err != nil {
		return err
	}
	if _, err := w.Write(append(log, '\n')); err != nil {
		return err
	}
	return rc.Flush()
}

// tellStory streams the story, one sentence every Pace, flushing each so
// that it goes on the wire when she says it.
func (g *Grandma) tellStory(ctx context.Context, w http.ResponseWriter, rc *http.ResponseController) error {
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
func (g *Grandma) say(w http.ResponseWriter, rc *http.ResponseController, u utterance) error {
	g.rec.Sent(u.id)
	if _, err := io.WriteString(w, u.text+"\n"); err != nil {
		return err
	}
	return rc.Flush()
}

// takePending returns what she has been waiting to say, and forgets it.
func (g *Grandma) takePending() []utterance {
	g.mu.Lock()
	defer g.mu.Unlock()
	pending := g.pending
	g.pending = nil
	return pending
}

// sayAll says each line, in this response.
func (g *Grandma) sayAll(w http.ResponseWriter, rc *http.ResponseController, lines []utterance) error {
	for _, u := range lines {
		if err := g.say(w, rc, u); err != nil {
			return err
		}
	}
	return nil
}

// Remember waits for the moment grandma remembers the county fair: its
// scripted time, or the end of her story if she is still telling it then
// (a slow link delays it). She wants to say it at once, but with no request
// to answer she can only keep it for the next one.
func (g *Grandma) Remember(ctx context.Context) {
	if g.rec.SleepUntil(ctx, g.script.AfterthoughtAt) != nil {
		return
	}
	select {
	case <-g.told:
	case <-ctx.Done():
		return
	}
	g.remember()
}

// remember wants to say the afterthought, once, and keeps it for the next
// request's answer.
func (g *Grandma) remember() {
	g.rememberOnce.Do(func() {
		u := g.want(story.LabelAfterthought, g.script.Afterthought)
		g.mu.Lock()
		g.pending = append(g.pending, u)
		g.mu.Unlock()
	})
}

// isClosed says whether c is closed, without waiting.
func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
