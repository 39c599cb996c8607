package h2

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// Grandma answers the call over HTTP/2. The call's stream is open both
// ways: she tells her story on it at her own pace, answers what she hears
// on it, says her afterthought the moment she thinks of it and her farewell
// to the goodbye. A line that comes on a stream of its own she answers on
// that stream, at once.
//
// Mode's local role makes one for a call in this process. NewGrandma makes
// one for a call from a grandchild elsewhere (duplexdemo serve): she bounds
// the call by its script and hands her record of the call over in a last
// line of the call's stream, after her farewell.
type Grandma struct {
	script story.Script
	rec    *timeline.Recorder
	// readWait bounds the silence between two of the grandchild's lines.
	readWait time.Duration
	// ear hears the grandchild's lines, on whichever stream they come.
	ear *timeline.Ear
	// callLimit, if set, bounds the whole call.
	callLimit time.Duration
	// maxLines, if set, bounds the lines she hears in one call.
	maxLines int
	// handOver says she hands her record over after her farewell;
	// latency is the emulated link on her side, for her record.
	handOver bool
	latency  time.Duration

	// mouth is held while she says a line, on whichever stream: each
	// flush returns once its frame is on the connection, so her lines
	// cross it in the order the timeline records them sent.
	mouth sync.Mutex

	mu    sync.Mutex
	taken bool // she has taken the call: a grandma takes one
	lines int  // the lines she has heard
}

// Served is how a grandma for a grandchild elsewhere behaves.
type Served struct {
	// Latency is the emulated link on the server's side, for her record.
	Latency time.Duration
	// MaxLines bounds the lines one call may say to her, on all its
	// streams; past it she hangs up.
	MaxLines int
	// Silence bounds the time between two of the grandchild's lines on the
	// call's stream; past it she hangs up.
	Silence time.Duration
	// Limit bounds the whole call; past it she hangs up. 0 sets no bound.
	Limit time.Duration
}

// NewGrandma returns grandma for one call from a grandchild elsewhere, who
// asked for script s. rec must be her own recorder
// (timeline.NewSideRecorder for the server, with the script's labels).
// ServeCall takes the call's stream, ServeUrgent each urgent line's.
func NewGrandma(s story.Script, rec *timeline.Recorder, o Served) *Grandma {
	return &Grandma{
		script:    s,
		rec:       rec,
		readWait:  o.Silence,
		ear:       timeline.NewEar(rec, timeline.Client),
		callLimit: o.Limit,
		maxLines:  o.MaxLines,
		handOver:  true,
		latency:   o.Latency,
	}
}

// utterance is a line someone wants to say, and the message it was
// recorded as.
type utterance struct {
	id    timeline.MsgID
	label string
	text  string
}

// heardLine is what grandma's listener hands her speaker: the label of a
// line she heard on the call's stream, and her reply when she has one.
type heardLine struct {
	label string
	reply utterance
}

// aLongTimeAgo is a deadline in the past: setting it ends a read at once.
var aLongTimeAgo = time.Unix(1, 0)

func (g *Grandma) want(label, text string) utterance {
	return utterance{g.rec.Want(timeline.Server, label, text, timeline.ReasonChannelBusy), label, text}
}

// ServeHTTP takes the call's stream (Path) or an urgent line's
// (UrgentPath), over HTTP/2 only.
func (g *Grandma) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor != 2 {
		http.Error(w, NotHTTP2, http.StatusHTTPVersionNotSupported)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "call grandma with POST", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case Path:
		g.ServeCall(w, r)
	case UrgentPath:
		g.ServeUrgent(w, r)
	default:
		http.NotFound(w, r)
	}
}

// NotHTTP2 is why a request that is not HTTP/2 is refused (505).
const NotHTTP2 = "grandma speaks HTTP/2 here: call her with prior knowledge (h2c)"

// reply returns what grandma answers to a line, if anything: the answer to
// the interruption, her farewell to the goodbye.
func (g *Grandma) reply(label string) (utterance, bool) {
	switch label {
	case story.LabelInterruption:
		return g.want(story.LabelAnswer, g.script.Answer), true
	case story.LabelGoodbye:
		return g.want(story.LabelFarewell, g.script.Farewell), true
	}
	return utterance{}, false
}

// ServeCall answers the call's stream, a POST to Path: its headers at
// once, so that the stream is open both ways, then her lines (speak) while
// she hears the grandchild's (listen). If the call ends before her
// farewell, she says why in the TrailerHangUp trailer (a reset stream
// would say nothing), and returns it; after her farewell she hands her
// record over, if she does, and returns "".
func (g *Grandma) ServeCall(w http.ResponseWriter, r *http.Request) (hungUp string) {
	g.mu.Lock()
	taken := g.taken
	g.taken = true
	g.mu.Unlock()
	if taken {
		http.Error(w, "grandma is on a call already", http.StatusConflict)
		return "a second call"
	}
	ctx := r.Context()
	if g.callLimit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, g.callLimit, errOutlasted)
		defer cancel()
	}
	rc := http.NewResponseController(w)
	textHeader(w)
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return "you were gone already" // the grandchild is gone already
	}
	heard := make(chan heardLine)
	spoken := make(chan struct{})
	listened := make(chan struct{})
	var dropped string
	go func() {
		defer close(listened)
		dropped = g.listen(ctx, r.Body, rc, heard, spoken)
	}()
	why := g.speak(ctx, w, rc, heard)
	close(spoken)
	_ = rc.SetReadDeadline(aLongTimeAgo) // ends listen, if it is still reading; it fails only if the stream is gone
	<-listened
	if why == "" || (why == whyGone && dropped != "") {
		why = dropped // what broke the stream says more than its end
	}
	if why == "" && g.handOver {
		if err := g.handRecordOver(w, rc); err != nil {
			why = "grandma could not hand over her record of the call: " + err.Error()
		}
	}
	if why != "" {
		w.Header().Set(http.TrailerPrefix+TrailerHangUp, why)
	}
	return why
}

// errOutlasted ends a call that lasts longer than its limit.
var errOutlasted = errors.New("the call outlasted its script")

// whyGone is why she hangs up when the call's context ends.
const whyGone = "grandma had to go"

// gone says why speak stopped when ctx ended: the call's limit, or grandma
// had to go (the call, or the server, is over).
func (g *Grandma) gone(ctx context.Context) string {
	if errors.Is(context.Cause(ctx), errOutlasted) {
		return fmt.Sprintf("the call outlasted its script (%v at most)", g.callLimit.Round(time.Millisecond))
	}
	return whyGone
}

// heardOne counts a line heard, on any stream, and says whether she may
// hear it: a call says at most maxLines.
func (g *Grandma) heardOne() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lines++
	return g.maxLines == 0 || g.lines <= g.maxLines
}

// tooMany is why she stops hearing a call that says too many lines.
func (g *Grandma) tooMany() string {
	return fmt.Sprintf("a call says at most %d lines", g.maxLines)
}

// handRecordOver ends her record of the call and says it as a last line of
// the call's stream, for a grandchild elsewhere to show her side too.
func (g *Grandma) handRecordOver(w io.Writer, rc *http.ResponseController) error {
	record, err := wire.EncodeRecord(g.rec.Finish(), wire.Facts{Connections: 1, Latency: g.latency})
	if err != nil {
		return err
	}
	return g.say(w, rc, utterance{id: timeline.NoMsg, text: string(record)})
}

// listen is the only reader of the call's stream. It hears each of the
// grandchild's lines, works out grandma's reply at once, and hands both to
// speak, unless speak has ended (spoken is closed); it stops after the
// goodbye. It closes heard as it returns why the call ended: "" after the
// goodbye, or when speak ended it.
func (g *Grandma) listen(ctx context.Context, body io.Reader, rc *http.ResponseController, heard chan<- heardLine, spoken <-chan struct{}) string {
	defer close(heard)
	hand := func(h heardLine) bool {
		select {
		case heard <- h:
			return true
		case <-spoken:
			return false
		}
	}
	br := newLineReaderSize(body, g.script.MaxGrandchildLine(call.MaxLine))
	for {
		if err := rc.SetReadDeadline(time.Now().Add(g.readWait)); err != nil {
			return "grandma cannot time your silence: " + err.Error()
		}
		text, err := readLine(br)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			if isClosed(spoken) {
				return "" // speak ended the call, and says why
			}
			return fmt.Sprintf("grandma heard nothing from you for %v", g.readWait.Round(time.Millisecond))
		case err == io.EOF:
			return "you ended the call's stream without saying goodbye"
		case err == io.ErrUnexpectedEOF:
			return "you ended the call's stream in the middle of a line"
		case err != nil:
			return err.Error()
		}
		if !g.heardOne() {
			return g.tooMany()
		}
		m, err := g.ear.Hear(ctx, text)
		if err != nil {
			return "grandma did not expect that line"
		}
		if m.Label == story.LabelPhoto {
			continue // she looks at it: it asks for no reply
		}
		switch label, _ := g.script.Label(m.Text); label {
		case story.LabelQuestion:
			if !hand(heardLine{label: label}) {
				return ""
			}
		default:
			reply, ok := g.reply(label)
			if !ok {
				return "grandma does not know what to say to that"
			}
			if !hand(heardLine{label: label, reply: reply}) || label == story.LabelGoodbye {
				return ""
			}
		}
	}
}

// speak is the only writer of the call's stream. It tells the story one
// sentence every Pace once she has heard the question, says each reply
// listen hands over the moment it comes, says the afterthought when she
// remembers it, and returns "" once she has said her farewell, or when
// listen has ended the call (it says why). Otherwise it returns why it
// ended the call.
func (g *Grandma) speak(ctx context.Context, w io.Writer, rc *http.ResponseController, heard <-chan heardLine) string {
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
		return g.say(w, rc, g.want(story.LabelAfterthought, g.script.Afterthought))
	}
	for {
		select {
		case h, ok := <-heard:
			if !ok {
				return "" // listen has ended the call, and says why
			}
			if h.label == story.LabelQuestion {
				if !telling { // asked again, she goes on with the story she is telling
					telling, storyStart = true, g.rec.Now()
					sentence.Reset(0)
				}
				continue
			}
			if err := g.say(w, rc, h.reply); err != nil {
				return "grandma could not speak: " + err.Error()
			}
			if h.label == story.LabelGoodbye {
				return ""
			}
		case <-sentence.C:
			if err := g.say(w, rc, g.want(story.LabelStory, g.script.Story[next])); err != nil {
				return "grandma could not speak: " + err.Error()
			}
			if next++; next < len(g.script.Story) {
				sentence.Reset(storyStart + g.script.Pace*time.Duration(next) - g.rec.Now())
			}
			if err := afterthoughtDue(); err != nil {
				return "grandma could not speak: " + err.Error()
			}
		case <-afterthought.C:
			// She remembers the fair at its scripted time, or when her story
			// is over if she is still telling it then (a slow link delays it).
			remember = true
			if err := afterthoughtDue(); err != nil {
				return "grandma could not speak: " + err.Error()
			}
		case <-ctx.Done():
			return g.gone(ctx)
		}
	}
}

// ServeUrgent hears one urgent line on a stream of its own and answers it on
// that stream at once: with her reply, or with 204 if she has none. The
// stream carries that one line; any other line belongs on the call's.
func (g *Grandma) ServeUrgent(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Now().Add(g.readWait)); err != nil {
		http.Error(w, "grandma cannot time your silence", http.StatusInternalServerError)
		return
	}
	br := newLineReader(r.Body)
	text, err := readLine(br)
	if err == nil {
		if _, more := br.ReadByte(); more != io.EOF {
			err = errors.New("an urgent stream carries one line")
		}
	}
	switch {
	case errors.Is(err, errLineTooLong):
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		http.Error(w, "grandma could not hear your line: "+err.Error(), http.StatusBadRequest)
		return
	}
	label, _ := g.script.Label(text)
	if !g.script.Urgent(label) {
		http.Error(w, fmt.Sprintf("only an urgent line goes on a stream of its own; say this one on the call's stream (POST %s)", Path), http.StatusBadRequest)
		return
	}
	if !g.heardOne() {
		http.Error(w, g.tooMany(), http.StatusTooManyRequests)
		return
	}
	if _, err := g.ear.Hear(r.Context(), text); err != nil {
		http.Error(w, "grandma did not expect that line", http.StatusBadRequest)
		return
	}
	reply, ok := g.reply(label)
	textHeader(w)
	if !ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err := g.say(w, rc, reply); err != nil {
		// The answer has started; all that is left is to abandon it.
		panic(http.ErrAbortHandler)
	}
}

// say writes one line on a stream and flushes it onto the connection,
// holding her mouth: the flush returns once the frame is written, so a
// line she says next, on any stream, crosses after it. A line that is no
// message of the call (her record, timeline.NoMsg) is not recorded.
func (g *Grandma) say(w io.Writer, rc *http.ResponseController, u utterance) error {
	g.mouth.Lock()
	defer g.mouth.Unlock()
	if err := rc.SetWriteDeadline(time.Now().Add(writeWait)); err != nil {
		return err
	}
	g.rec.Sent(u.id) // of timeline.NoMsg, nothing
	// One Write: net/http sends a long line in one piece (a chunk, or
	// DATA frames of the largest size), where WriteString would cut it
	// at its buffer's size.
	if _, err := w.Write([]byte(u.text + "\n")); err != nil {
		return err
	}
	if err := rc.Flush(); err != nil {
		return err
	}
	// An HTTP/2 write deadline resets the stream when it passes, written
	// or not: cleared, it bounds this write only.
	return rc.SetWriteDeadline(time.Time{})
}

// textHeader sets the headers of an answer in plain text.
func textHeader(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
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
