package h1full

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// Grandma answers the call. She picks up at once (her answer's head),
// tells her story at her own pace in her answer while she still hears the
// request, answers an interruption the moment she hears it, and says her
// afterthought when she thinks of it: nobody has to ask first.
//
// Mode's local role makes one for a call in this process. NewGrandma makes
// one for a call from a grandchild elsewhere (duplexdemo serve): she bounds
// the call by its script and hands her record of the call over in a last
// line of her answer, after her farewell.
type Grandma struct {
	script story.Script
	rec    *timeline.Recorder
	// readWait bounds the silence between two of the grandchild's lines.
	readWait time.Duration
	// closeWait bounds how long, having said her farewell, she waits for
	// the request body to end.
	closeWait time.Duration
	// callLimit, if set, bounds the whole call.
	callLimit time.Duration
	// maxLines, if set, bounds the lines she hears in one call.
	maxLines int
	// handOver says she hands her record over after her farewell;
	// latency is the emulated link on her side, for her record.
	handOver bool
	latency  time.Duration
}

// Served is how a grandma for a grandchild elsewhere behaves.
type Served struct {
	// Latency is the emulated link on the server's side, which her waits
	// allow for, and her record states.
	Latency time.Duration
	// MaxLines bounds the lines one call may say to her; past it she hangs
	// up.
	MaxLines int
	// Silence bounds the time between two of the grandchild's lines; past
	// it she hangs up.
	Silence time.Duration
	// Limit bounds the whole call; past it she hangs up. 0 sets no bound.
	Limit time.Duration
}

// NewGrandma returns grandma for one call from a grandchild elsewhere, who
// asked for script s. rec must be her own recorder
// (timeline.NewSideRecorder for the server, with the script's labels).
// ServeCall takes the call.
func NewGrandma(s story.Script, rec *timeline.Recorder, o Served) *Grandma {
	return &Grandma{
		script:    s,
		rec:       rec,
		readWait:  o.Silence,
		closeWait: closeWait + 2*o.Latency,
		callLimit: o.Limit,
		maxLines:  o.MaxLines,
		handOver:  true,
		latency:   o.Latency,
	}
}

// heardLine is what grandma's reader hands her writer: the label of a line
// she heard, and her reply to it when she has one.
type heardLine struct {
	label string
	reply utterance
}

// exchange is one call as grandma takes it: the request she hears and the
// answer she says, each used by one goroutine only.
type exchange struct {
	w    http.ResponseWriter // written by speak only
	rc   *http.ResponseController
	body io.Reader // read by listen only
	// heard carries what listen heard to speak; listen closes it.
	heard chan heardLine
	// spoken is closed once speak has returned.
	spoken chan struct{}
	// stopping is set when grandma stops listen herself, by its deadline.
	stopping atomic.Bool
}

func (g *Grandma) want(label, text string) utterance {
	return utterance{g.rec.Want(timeline.Server, label, text, timeline.ReasonChannelBusy), label, text}
}

// ServeHTTP takes the call: a POST to Path whose body the grandchild keeps
// writing. She turns on full duplex (FullDuplex) and takes the call
// (ServeCall).
func (g *Grandma) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	if err := FullDuplex(r, rc); err != nil {
		http.Error(w, err.Error(), http.StatusHTTPVersionNotSupported)
		return
	}
	if r.URL.Path != Path {
		Refuse(w, rc, "404 page not found", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		Refuse(w, rc, NotPost, http.StatusMethodNotAllowed)
		return
	}
	g.ServeCall(w, r)
}

// NotPost is why a request that is not a POST is refused (405).
const NotPost = "call grandma with a POST whose body carries your lines"

// FullDuplex lets the handler of r, whose answer rc controls, read the
// request after its answer has begun. Without it, Go's HTTP/1.1 server
// reads the rest of the request (up to 256 KiB) before the answer's head
// goes, and the handler cannot read the request once its answer has begun;
// a request that never ends would never be answered, not even refused. A
// handler calls it first, before it answers anything. It fails with an
// error that says so for a request that is not HTTP/1.1: HTTP/2's streams
// are two-way already, and that is another call (package h2).
func FullDuplex(r *http.Request, rc *http.ResponseController) error {
	if r.ProtoMajor != 1 || rc.EnableFullDuplex() != nil {
		return errors.New("grandma takes this call over HTTP/1.1 only")
	}
	return nil
}

// ServeCall takes the call, a POST to Path over HTTP/1.1 whose handler has
// turned on full duplex (FullDuplex). She picks up with her answer's head,
// and talks until the grandchild says goodbye; after her farewell she hands
// her record over, if she does, and returns "". If the call ends before her
// farewell, her answer's trailer TrailerHangUp says why, and she returns
// it.
func (g *Grandma) ServeCall(w http.ResponseWriter, r *http.Request) (hungUp string) {
	rc := http.NewResponseController(w)
	ctx := r.Context()
	if g.callLimit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, g.callLimit, errOutlasted)
		defer cancel()
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if rc.Flush() != nil {
		return "you were gone already"
	}
	x := &exchange{w: w, rc: rc, body: r.Body, heard: make(chan heardLine), spoken: make(chan struct{})}
	listened := make(chan struct{})
	var why string
	go func() {
		defer close(listened)
		why = g.listen(x)
	}()
	outcome := g.speak(ctx, x)
	close(x.spoken)
	if outcome == outcomeGone && errors.Is(context.Cause(ctx), errOutlasted) {
		outcome = fmt.Sprintf("the call outlasted its script (%v at most)", g.callLimit.Round(time.Millisecond))
	}
	if outcome == outcomeGone {
		// Her context ends when the call is over, and also when a read of
		// the request fails (a silence past its deadline, a broken
		// connection): then listen says why, a moment later.
		t := time.NewTimer(goneGrace)
		select {
		case <-listened:
		case <-t.C:
		}
		t.Stop()
	}
	if outcome == outcomeFarewell {
		// The goodbye is the request body's last line: its end follows.
		t := time.NewTimer(g.closeWait)
		select {
		case <-listened:
		case <-t.C:
		}
		t.Stop()
	}
	select {
	case <-listened:
		// The request has ended or broken: its deadline is left alone. Past
		// the body's end the server reads on its own, to notice the
		// grandchild leaving, and a deadline that stopped that read would
		// end the connection's context, not only this request's.
	default:
		x.stopping.Store(true)
		_ = rc.SetReadDeadline(time.Now()) // listen stops now; it is all the same if it cannot
		<-listened
	}
	if outcome == outcomeFarewell && g.handOver {
		if err := g.handRecordOver(x); err != nil {
			outcome = "grandma could not hand over her record of the call: " + err.Error()
		}
	}
	if outcome == outcomeFarewell {
		return "" // the answer ends after her farewell, and her record
	}
	if why == "" {
		why = outcome
	}
	// The answer's head is long gone: why she hangs up goes in a trailer.
	w.Header().Set(http.TrailerPrefix+TrailerHangUp, why)
	return why
}

// errOutlasted ends a call that lasts longer than its limit.
var errOutlasted = errors.New("the call outlasted its script")

// handRecordOver ends her record of the call and says it as a last line of
// her answer, for a grandchild elsewhere to show her side too.
func (g *Grandma) handRecordOver(x *exchange) error {
	record, err := wire.EncodeRecord(g.rec.Finish(), wire.Facts{Connections: 1, Latency: g.latency})
	if err != nil {
		return err
	}
	return g.say(x, utterance{id: timeline.NoMsg, text: string(record)}) // no message of the call: not recorded
}

// Refuse answers a request that is no call with code and msg, and stops
// reading it: once the handler returns, the server would otherwise read on
// to its end, however long the caller keeps it open.
func Refuse(w http.ResponseWriter, rc *http.ResponseController, msg string, code int) {
	http.Error(w, msg, code)
	_ = rc.SetReadDeadline(time.Now()) // it is all the same if it cannot
}

// outcomeFarewell is speak's outcome when the call ended with her
// farewell; outcomeGone when her context ended first.
const (
	outcomeFarewell = "farewell"
	outcomeGone     = "grandma had to go"
)

// goneGrace bounds how long grandma, her context ended, waits for listen
// to say why (a read that failed ends her context too).
const goneGrace = 500 * time.Millisecond

// listen is the only goroutine that reads the request body. It hears each
// line, works out grandma's reply at once, and hands both to speak, unless
// speak has ended. It closes x.heard when the body ends or breaks, and
// says why the call could not go on: "" when the body ended after the
// goodbye, or when grandma stopped it herself.
func (g *Grandma) listen(x *exchange) (why string) {
	defer close(x.heard)
	hand := func(h heardLine) bool {
		select {
		case x.heard <- h:
			return true
		case <-x.spoken:
			return false
		}
	}
	// A line and its newline; the grandchild's photo, if she sends one, is
	// her longest line.
	maxLine := g.script.MaxGrandchildLine(call.MaxLine)
	br := bufio.NewReaderSize(x.body, maxLine+1)
	goodbye := false
	lines := 0
	for {
		if err := x.rc.SetReadDeadline(time.Now().Add(g.readWait)); err != nil {
			return "grandma cannot bound her wait for the request: " + err.Error()
		}
		line, err := br.ReadSlice('\n')
		switch {
		case err == nil:
		case x.stopping.Load():
			return ""
		case err == io.EOF && len(line) == 0 && goodbye:
			return ""
		case err == io.EOF && len(line) == 0:
			return "the request ended without a goodbye"
		case err == io.EOF:
			return "the request ended in the middle of a line"
		case errors.Is(err, bufio.ErrBufferFull):
			return fmt.Sprintf("a line may be at most %d bytes", maxLine)
		case errors.Is(err, os.ErrDeadlineExceeded):
			return fmt.Sprintf("grandma heard nothing from you for %v", g.readWait.Round(time.Millisecond))
		default:
			return "grandma could not hear the request: " + err.Error()
		}
		if goodbye {
			return "a line after the goodbye"
		}
		if lines++; g.maxLines > 0 && lines > g.maxLines {
			return fmt.Sprintf("a call says at most %d lines", g.maxLines)
		}
		m, err := g.rec.Heard(timeline.Client, string(line[:len(line)-1]))
		if err != nil {
			return "grandma did not expect that line"
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
			goodbye = true
			h = heardLine{label: label, reply: g.want(story.LabelFarewell, g.script.Farewell)}
		default:
			return "grandma does not know what to say to that"
		}
		if !hand(h) {
			return "" // speak has ended, and says why
		}
	}
}

// speak is the only goroutine that writes the answer. It tells the story
// one sentence every Pace once she has heard the question, says each reply
// the moment listen hands it over, says the afterthought when grandma
// remembers it, and her farewell to the goodbye. It returns
// outcomeFarewell, "" when listen has ended (and says why), or why it
// stopped.
func (g *Grandma) speak(ctx context.Context, x *exchange) (outcome string) {
	afterthought := time.NewTimer(g.script.AfterthoughtAt - g.rec.Now())
	defer afterthought.Stop()
	sentence := time.NewTimer(0)
	sentence.Stop() // started when she hears the question
	defer sentence.Stop()
	var telling bool // she has begun the story
	var storyStart time.Duration
	next := 0 // the next sentence to tell
	// remembered: she has thought of the fair; remember: she has not said
	// it yet, and will once the story is over.
	var remembered, remember bool
	storyOver := func() bool { return telling && next == len(g.script.Story) }
	afterthoughtDue := func() error {
		if !remember || !storyOver() {
			return nil
		}
		remember = false
		return g.say(x, g.want(story.LabelAfterthought, g.script.Afterthought))
	}
	for {
		var err error
		select {
		case h, ok := <-x.heard:
			if !ok {
				return "" // listen has ended, and says why
			}
			switch h.label {
			case story.LabelQuestion:
				if !telling {
					telling, storyStart = true, g.rec.Now()
					sentence.Reset(0)
				}
			case story.LabelGoodbye:
				// Her last chance to say it: if its time has come and her
				// story is told, she has thought of it, even if its timer
				// has not fired yet on a busy machine.
				if !remembered && storyOver() && g.rec.Now() >= g.script.AfterthoughtAt {
					remembered, remember = true, true
				}
				if err = afterthoughtDue(); err == nil {
					err = g.say(x, h.reply)
				}
				if err == nil {
					return outcomeFarewell
				}
			default:
				err = g.say(x, h.reply)
			}
		case <-sentence.C:
			err = g.say(x, g.want(story.LabelStory, g.script.Story[next]))
			if next++; next < len(g.script.Story) {
				sentence.Reset(storyStart + g.script.Pace*time.Duration(next) - g.rec.Now())
			}
			if err == nil {
				err = afterthoughtDue()
			}
		case <-afterthought.C:
			// She remembers the fair at its scripted time, or when her story
			// is over if she is still telling it then (a slow link delays it).
			if !remembered {
				remembered, remember = true, true
			}
			err = afterthoughtDue()
		case <-ctx.Done():
			return outcomeGone
		}
		if err != nil {
			return "grandma could not talk to you: " + err.Error()
		}
	}
}

// say writes one line of the answer, bounded by writeWait, and flushes it
// onto the connection as one chunk.
func (g *Grandma) say(x *exchange, u utterance) error {
	if err := x.rc.SetWriteDeadline(time.Now().Add(writeWait)); err != nil {
		return err
	}
	g.rec.Sent(u.id)
	// One Write: net/http sends a long line in one piece (a chunk, or
	// DATA frames of the largest size), where WriteString would cut it
	// at its buffer's size.
	if _, err := x.w.Write([]byte(u.text + "\n")); err != nil {
		return err
	}
	return x.rc.Flush()
}
