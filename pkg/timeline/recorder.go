// Package timeline records what the two sides of a call did, on one monotonic
// clock, and derives from it who was talking, listening, waiting or idle.
//
// A Recorder is shared by both sides of a call. Each message goes through
// three measured moments: its sender wants to say it (Want), the channel lets
// it go (Sent, recorded just before the first byte is written), and the other
// side's application has heard all of it (Heard). Connections opening and
// closing are recorded as plain events (Record).
package timeline

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/story"
)

// Resolution is the finest stretch of time the timeline tells apart from
// scheduling noise. A message that waits this long between Want and Sent
// gets a KindWaiting event saying that its sender is stuck; shorter waits,
// and overlaps shorter than this, are not drawn or counted.
const Resolution = time.Millisecond

// The reasons for waiting that every transport shares. A transport names
// its own besides these (grandma's "no request to answer" on HTTP).
const (
	// ReasonConnecting is why a side's first line waits: the connection
	// (and whatever handshake it needs) is still being opened.
	ReasonConnecting = "connecting"
	// ReasonChannelBusy is why a line waits for a channel that is carrying
	// something else: the one HTTP connection still carrying an answer, or
	// a WebSocket writer still writing an earlier message.
	ReasonChannelBusy = "channel busy"
)

// Side is one end of the call.
type Side uint8

const (
	// Client is the grandchild, who places the call.
	Client Side = iota
	// Server is grandma, who answers it.
	Server
)

// String returns "client" or "server".
func (s Side) String() string {
	if s == Server {
		return "server"
	}
	return "client"
}

// Peer returns the other side.
func (s Side) Peer() Side { return 1 - s }

// Kind says what an Event records.
type Kind uint8

const (
	// KindConnect: a connection opened (or a protocol on it became usable).
	KindConnect Kind = iota
	// KindWant: the side wants to say a message.
	KindWant
	// KindWaiting: the side still could not say its message Resolution after
	// wanting to; Reason says why.
	KindWaiting
	// KindSend: the channel let the message go; its first byte is being written.
	KindSend
	// KindHeard: the side's application has read all of a message from its peer.
	KindHeard
	// KindClose: a connection closed.
	KindClose
)

// String returns the kind's name as used in JSON: connect, want, waiting,
// send, heard or close.
func (k Kind) String() string {
	switch k {
	case KindConnect:
		return "connect"
	case KindWant:
		return "want"
	case KindWaiting:
		return "waiting"
	case KindSend:
		return "send"
	case KindHeard:
		return "heard"
	case KindClose:
		return "close"
	}
	return fmt.Sprintf("kind(%d)", k)
}

// MsgID identifies a message within one Recorder.
type MsgID int

// NoMsg is the MsgID of events that belong to no message.
const NoMsg MsgID = -1

// Event is one recorded moment.
type Event struct {
	// At is the time since the recorder started, on the monotonic clock.
	At time.Duration
	// Side is the side the event happened on.
	Side Side
	// Kind says what happened.
	Kind Kind
	// Msg is the message the event belongs to, or NoMsg.
	Msg MsgID
	// Label names the message's part in the conversation ("question",
	// "story", ...); for connection events it is empty.
	Label string
	// Text is the message's text, or a description of a connection event.
	Text string
	// Bytes is the message's payload size in bytes (0 for connection events).
	Bytes int
	// Reason says why a message had to wait (on KindWant and KindWaiting).
	Reason string
	// Waited is how long the message waited between Want and Send (on
	// KindSend), or has waited so far (on KindWaiting).
	Waited time.Duration
}

// Message is the measured life of one message.
type Message struct {
	ID MsgID
	// From is the side that said it.
	From Side
	// Label names its part in the conversation. Messages with the same
	// label from the same side form one utterance (a story told in several
	// sentences).
	Label string
	Text  string
	// Reason says why it would have to wait if the channel did not let it go
	// at once.
	Reason string
	// WantedAt, SentAt and HeardAt are the three measured moments; SentAt and
	// HeardAt are meaningful only when Sent and Heard are true.
	WantedAt, SentAt, HeardAt time.Duration
	Sent, Heard               bool

	// bytes is the size of a line recorded under a short text (a photo),
	// and sum its hash; 0 for any other line, whose size is len(Text).
	bytes int
	sum   uint64
}

// Bytes returns the message's size in bytes: its text's, or for a photo,
// recorded under a short text, the photo's.
func (m Message) Bytes() int {
	if m.bytes > 0 {
		return m.bytes
	}
	return len(m.Text)
}

// AsPhoto returns m as a photo of size bytes, under its short text
// (story.PhotoText), as a recorder keeps one: for a timeline rebuilt from
// a record of the call (package wire), which gives a photo that text and
// its size, never the photo itself.
func (m Message) AsPhoto(size int) Message {
	m.Text, m.bytes = story.PhotoText(size), size
	return m
}

// Waited returns how long the message waited for the channel.
func (m Message) Waited() time.Duration {
	if !m.Sent {
		return 0
	}
	return m.SentAt - m.WantedAt
}

// HeardAfter returns how long after its sender wanted to say it the message
// was heard.
func (m Message) HeardAfter() time.Duration {
	if !m.Heard {
		return 0
	}
	return m.HeardAt - m.WantedAt
}

// Observer is told of each event as it is recorded, in the order of the
// events' timestamps. It is called with the recorder's lock held, so it must
// be quick and must not call the recorder.
type Observer func(Event)

// Recorder records the events of one call. Its methods are safe for
// concurrent use by both sides.
type Recorder struct {
	mu       sync.Mutex
	start    time.Time
	events   []Event
	msgs     []Message
	inFlight [2][]MsgID // per sending side, sent but not yet heard, in send order
	// unsent are the messages wanted but neither sent nor noticed as
	// waiting yet, in the order they were wanted; notice fires when the
	// oldest of them has waited Resolution.
	unsent   []MsgID
	notice   *time.Timer
	armed    bool
	observer Observer
	finished bool
	end      time.Duration // when Finish was first called

	// oneSided is set on a recorder of one side of a call whose other side
	// records on another machine (NewSideRecorder): it hears lines whose
	// sending it never saw, and names them with label.
	oneSided bool
	side     Side
	label    func(text string) (string, bool)

	// seed hashes the photos' texts, which the recorder does not keep.
	seed maphash.Seed
}

// NewSideRecorder returns a recorder for side only, whose peer records on
// a clock of its own, elsewhere (a grandma served to other machines, or a
// grandchild calling one). It records side's lines as NewRecorder does; a
// line from the peer is recorded when heard, with the label that label
// gives its text, and Heard refuses text label does not know. Merge joins
// the two sides' timelines into one.
func NewSideRecorder(side Side, label func(text string) (string, bool), observer Observer) *Recorder {
	r := NewRecorder(observer)
	r.oneSided, r.side, r.label = true, side, label
	return r
}

// NewRecorder returns a recorder whose clock starts now. observer may be nil.
// The caller must call Finish when the call is over.
func NewRecorder(observer Observer) *Recorder {
	r := &Recorder{
		start:    time.Now(),
		events:   make([]Event, 0, 64),
		observer: observer,
		seed:     maphash.MakeSeed(),
	}
	r.notice = time.AfterFunc(time.Hour, r.noticeWaits)
	r.notice.Stop()
	return r
}

// Now returns the time since the recorder started.
func (r *Recorder) Now() time.Duration { return time.Since(r.start) }

// At returns t on the call's clock: how long after its start t was.
func (r *Recorder) At(t time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return t.Sub(r.start)
}

// SleepUntil blocks until the recorder's clock reads at, or until ctx ends,
// in which case it returns ctx's error.
func (r *Recorder) SleepUntil(ctx context.Context, at time.Duration) error {
	d := at - r.Now()
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Await blocks until the recorder's clock reads at and after is closed,
// whichever comes later, or until ctx ends, in which case it returns ctx's
// error: a line is wanted at its scripted time, but never before it makes
// sense to say it.
func (r *Recorder) Await(ctx context.Context, at time.Duration, after <-chan struct{}) error {
	if err := r.SleepUntil(ctx, at); err != nil {
		return err
	}
	select {
	case <-after:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Record records an event that belongs to no message, such as a connection
// opening (KindConnect) or closing (KindClose).
func (r *Recorder) Record(side Side, kind Kind, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.appendLocked(Event{Side: side, Kind: kind, Msg: NoMsg, Text: text})
}

// appendLocked stamps e with the current time, unless it already carries
// one, and records it. Times are taken under the lock so that event order and
// timestamp order agree.
func (r *Recorder) appendLocked(e Event) time.Duration {
	if r.finished {
		return e.At
	}
	if e.At == 0 {
		e.At = time.Since(r.start)
	}
	r.events = append(r.events, e)
	if r.observer != nil {
		r.observer(e)
	}
	return e.At
}

// Want records that side from wants to say text now. reason says why the
// message would have to wait if the channel does not let it go at once; if
// it has not been sent Resolution later, a KindWaiting event with that reason
// is recorded. A photo (story.LabelPhoto) is recorded under a short text
// (story.PhotoText) with its real size: the recorder never keeps it.
func (r *Recorder) Want(from Side, label, text, reason string) MsgID {
	m := Message{From: from, Label: label, Text: text, Reason: reason}
	if label == story.LabelPhoto {
		m.Text, m.bytes, m.sum = story.PhotoText(len(text)), len(text), maphash.String(r.seed, text)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	id := MsgID(len(r.msgs))
	m.ID = id
	m.WantedAt = r.appendLocked(Event{Side: from, Kind: KindWant, Msg: id, Label: label, Text: m.Text, Bytes: m.Bytes(), Reason: reason})
	r.msgs = append(r.msgs, m)
	if !r.finished {
		r.unsent = append(r.unsent, id)
		if !r.armed {
			r.armLocked()
		}
	}
	return id
}

// armLocked sets the notice timer for the oldest unsent message, or stops
// it when there is none.
func (r *Recorder) armLocked() {
	if len(r.unsent) == 0 {
		r.notice.Stop()
		r.armed = false
		return
	}
	r.notice.Reset(r.msgs[r.unsent[0]].WantedAt + Resolution - time.Since(r.start))
	r.armed = true
}

// noticeWaits records a KindWaiting event for each message that has
// waited Resolution without being sent.
func (r *Recorder) noticeWaits() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return
	}
	at := time.Since(r.start)
	for len(r.unsent) > 0 {
		m := r.msgs[r.unsent[0]]
		if m.WantedAt+Resolution > at {
			break
		}
		r.unsent = r.unsent[:copy(r.unsent, r.unsent[1:])]
		r.appendLocked(Event{At: at, Side: m.From, Kind: KindWaiting, Msg: m.ID, Label: m.Label, Text: m.Text, Bytes: m.Bytes(), Reason: m.Reason, Waited: at - m.WantedAt})
	}
	r.armLocked()
}

// Sent records that the channel let message id go. Call it just before its
// first byte is written, so that the peer cannot hear it before it was sent.
func (r *Recorder) Sent(id MsgID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id < 0 || int(id) >= len(r.msgs) || r.msgs[id].Sent {
		return
	}
	if r.finished {
		return
	}
	for i, u := range r.unsent {
		if u == id {
			r.unsent = append(r.unsent[:i], r.unsent[i+1:]...)
			if i == 0 {
				r.armLocked()
			}
			break
		}
	}
	m := &r.msgs[id]
	at := time.Since(r.start)
	r.appendLocked(Event{At: at, Side: m.From, Kind: KindSend, Msg: id, Label: m.Label, Text: m.Text, Bytes: m.Bytes(), Waited: at - m.WantedAt})
	m.Sent, m.SentAt = true, at
	r.inFlight[m.From] = append(r.inFlight[m.From], id)
}

// Heard records that the application on from's peer has read all of the next
// message from sent, whose text must be text. Messages in one direction are
// heard in the order they were sent, as on any ordered connection, but for
// a photo (story.LabelPhoto): a line sent after it may be heard before it,
// having crossed on a stream of its own while the photo still crossed. It
// returns the message, or an error if the peer heard something that was not
// sent.
func (r *Recorder) Heard(from Side, text string) (Message, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.oneSided {
		return r.heardFromAfarLocked(from, text)
	}
	q := r.inFlight[from]
	if len(q) == 0 {
		return Message{}, fmt.Errorf("the %s heard %q, but the %s had not sent anything", from.Peer(), shorten(text), from)
	}
	// The next message, or one sent after a photo still crossing: a line on
	// a stream of its own (HTTP/2's) may overtake it.
	i := 0
	for !r.matchesLocked(&r.msgs[q[i]], text) {
		if r.msgs[q[i]].bytes == 0 || i+1 == len(q) {
			return Message{}, fmt.Errorf("the %s heard %q, but the %s's next message was %q", from.Peer(), shorten(text), from, r.msgs[q[0]].Text)
		}
		i++
	}
	m := &r.msgs[q[i]]
	r.inFlight[from] = append(q[:i], q[i+1:]...) // keeping the memory for later sends
	at := r.appendLocked(Event{Side: from.Peer(), Kind: KindHeard, Msg: m.ID, Label: m.Label, Text: m.Text, Bytes: m.Bytes()})
	if !r.finished {
		m.Heard, m.HeardAt = true, at
	}
	return *m, nil
}

// matchesLocked says whether text is message m's: its text, or for a photo
// recorded under a short text, the photo of that size and hash, compared
// by length first, which is cheap.
func (r *Recorder) matchesLocked(m *Message, text string) bool {
	if m.bytes == 0 {
		return m.Text == text
	}
	return len(text) == m.bytes && maphash.String(r.seed, text) == m.sum
}

// maxQuoted bounds how much of a line an error quotes.
const maxQuoted = 80

// shorten returns text, or its beginning if it is too long to quote.
func shorten(text string) string {
	if len(text) <= maxQuoted {
		return text
	}
	return fmt.Sprintf("%s... (%d bytes)", text[:maxQuoted], len(text))
}

// heardFromAfarLocked records a line from a peer that records elsewhere:
// its sending is on the peer's timeline, so it is a message of its own
// here, heard but with no moment of wanting or sending.
func (r *Recorder) heardFromAfarLocked(from Side, text string) (Message, error) {
	if from == r.side {
		return Message{}, fmt.Errorf("the %s cannot hear itself", r.side)
	}
	label, ok := r.label(text)
	if !ok {
		return Message{}, fmt.Errorf("the %s heard %q, which is no line of the script", r.side, shorten(text))
	}
	id := MsgID(len(r.msgs))
	m := Message{ID: id, From: from, Label: label, Text: text}
	if label == story.LabelPhoto {
		m.Text, m.bytes = story.PhotoText(len(text)), len(text)
	}
	at := r.appendLocked(Event{Side: r.side, Kind: KindHeard, Msg: id, Label: label, Text: m.Text, Bytes: m.Bytes()})
	m.Heard, m.HeardAt = !r.finished, at
	r.msgs = append(r.msgs, m)
	return m, nil
}

// Reset discards everything recorded, keeping the memory already allocated,
// and restarts the clock, so one recorder can serve call after call.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopNoticesLocked()
	r.start = time.Now()
	r.events = r.events[:0]
	r.msgs = r.msgs[:0]
	r.inFlight = [2][]MsgID{}
	r.finished = false
}

func (r *Recorder) stopNoticesLocked() {
	r.notice.Stop()
	r.armed = false
	r.unsent = r.unsent[:0]
}

// Finish stops the recorder and returns what it recorded. Later calls record
// nothing.
func (r *Recorder) Finish() *Timeline {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopNoticesLocked()
	if !r.finished {
		r.finished = true
		r.end = time.Since(r.start)
	}
	return &Timeline{
		Duration: r.end,
		Events:   append([]Event(nil), r.events...),
		Messages: append([]Message(nil), r.msgs...),
	}
}
