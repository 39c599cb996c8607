package workarounds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// grandma keeps everything she wants to say until a poll takes it: she
// never speaks first, and never speaks on her own.
type grandma struct {
	script story.Script
	rec    *timeline.Recorder

	// asked is closed when she hears the question; goodbye when she hears
	// the goodbye.
	asked, goodbye         chan struct{}
	askedOnce, goodbyeOnce sync.Once

	// long says she holds a poll until she has something to say.
	long bool
	// streamed says she speaks on an event stream (GET EventsPath) instead.
	streamed bool

	mu      sync.Mutex
	pending []utterance
	// kept is signalled when a line is kept, for a held poll.
	kept chan struct{}

	// With long polling, grandma can speak only while a poll is held: the
	// stretches with none are counted. polls is how many polls she holds
	// now; gapFrom is when the current stretch with none began.
	polls   int
	gapFrom time.Duration
	gaps    int
	gapTime time.Duration
}

// pollArrived notes a poll held, ending a stretch with none.
func (g *grandma) pollArrived() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.polls == 0 {
		g.gaps++
		g.gapTime += g.rec.Now() - g.gapFrom
	}
	g.polls++
}

// pollAnswered notes a poll answered, starting a stretch with none if it
// was the last one held.
func (g *grandma) pollAnswered() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.polls--
	if g.polls == 0 {
		g.gapFrom = g.rec.Now()
	}
}

// noPoll returns how many stretches grandma had no poll held, and how long
// they lasted in all, until now.
func (g *grandma) noPoll() (int, time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.gaps, g.gapTime
}

func newGrandma(s story.Script, rec *timeline.Recorder) *grandma {
	return &grandma{script: s, rec: rec, asked: make(chan struct{}), goodbye: make(chan struct{}), kept: make(chan struct{}, 1)}
}

// keep wants to say a line, and keeps it for the next poll, or for the
// event stream.
func (g *grandma) keep(label, text string) {
	reason := ReasonNextPoll
	if g.streamed {
		reason = ReasonNoStream
	}
	u := utterance{g.rec.Want(timeline.Server, label, text, reason), text}
	g.mu.Lock()
	g.pending = append(g.pending, u)
	g.mu.Unlock()
	select {
	case g.kept <- struct{}{}:
	default: // a signal is already waiting
	}
}

// ServeHTTP hears a line (POST /say) or answers a poll (GET /poll) with
// everything she has kept since the last one: possibly nothing.
func (g *grandma) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == SayPath && r.Method == http.MethodPost:
		g.hear(w, r)
	case r.URL.Path == EventsPath && r.Method == http.MethodGet && g.streamed:
		g.stream(w, r)
	case r.URL.Path == PollPath && r.Method == http.MethodGet && !g.streamed:
		if g.long {
			g.pollArrived()
			defer g.pollAnswered()
			g.hold(r.Context())
		}
		g.answerPoll(w)
	case r.URL.Path == SayPath || r.URL.Path == PollPath:
		http.Error(w, "POST a line to /say, GET /poll for grandma's", http.StatusMethodNotAllowed)
	default:
		http.NotFound(w, r)
	}
}

// hear takes one of the grandchild's lines. The answer to the POST says
// nothing (204 No Content): what grandma replies waits for a poll like
// everything else, and the photo asks for no reply at all.
func (g *grandma) hear(w http.ResponseWriter, r *http.Request) {
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
	switch label, _ := g.script.Label(text); label { // the photo's own text: the timeline keeps it short
	case story.LabelPhoto:
		// She looks at it: it asks for no reply.
	case story.LabelQuestion:
		g.askedOnce.Do(func() { close(g.asked) })
	case story.LabelInterruption:
		g.keep(story.LabelAnswer, g.script.Answer)
	case story.LabelGoodbye:
		g.goodbyeOnce.Do(func() { close(g.goodbye) })
	default:
		http.Error(w, fmt.Sprintf("grandma does not know what to say to %q", heard.Text), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// hold keeps a long poll waiting until she has something to say, or for
// HoldFor at most, or until the call ends.
func (g *grandma) hold(ctx context.Context) {
	t := time.NewTimer(HoldFor)
	defer t.Stop()
	for {
		g.mu.Lock()
		n := len(g.pending)
		g.mu.Unlock()
		if n > 0 {
			return
		}
		select {
		case <-g.kept:
		case <-t.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// stream answers with an event stream (text/event-stream) on which she
// says each line the moment she has it, an event each, until her farewell,
// or until the call ends.
func (g *grandma) stream(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if rc.Flush() != nil {
		return
	}
	for {
		g.mu.Lock()
		lines := g.pending
		g.pending = nil
		g.mu.Unlock()
		for _, u := range lines {
			g.rec.Sent(u.id)
			if _, err := fmt.Fprintf(w, "event: line\ndata: %s\n\n", u.text); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
			if u.text == g.script.Farewell {
				return // the call is over
			}
		}
		select {
		case <-g.kept:
		case <-r.Context().Done():
			return
		}
	}
}

// answerPoll sends everything kept, one line each, each sent as it is
// written.
func (g *grandma) answerPoll(w http.ResponseWriter) {
	g.mu.Lock()
	lines := g.pending
	g.pending = nil
	g.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if len(lines) == 0 {
		w.WriteHeader(http.StatusNoContent) // nothing new
		return
	}
	rc := http.NewResponseController(w)
	for _, u := range lines {
		g.rec.Sent(u.id)
		if _, err := io.WriteString(w, u.text+"\n"); err != nil {
			panic(http.ErrAbortHandler)
		}
		if err := rc.Flush(); err != nil {
			panic(http.ErrAbortHandler)
		}
	}
}

// think is grandma's side of the script: once asked, the story, sentence
// by sentence at its pace; the county fair when she remembers it, after the
// story; her farewell when she hears goodbye. Each is kept for a poll. It
// returns once she has kept her farewell, or when ctx ends.
func (g *grandma) think(ctx context.Context) {
	select {
	case <-g.asked:
	case <-ctx.Done():
		return
	}
	start := g.rec.Now()
	for i, sentence := range g.script.Story {
		if g.rec.SleepUntil(ctx, start+g.script.Pace*time.Duration(i)) != nil {
			return
		}
		g.keep(story.LabelStory, sentence)
	}
	if g.rec.SleepUntil(ctx, g.script.AfterthoughtAt) != nil {
		return
	}
	g.keep(story.LabelAfterthought, g.script.Afterthought)
	select {
	case <-g.goodbye:
		g.keep(story.LabelFarewell, g.script.Farewell)
	case <-ctx.Done():
	}
}
