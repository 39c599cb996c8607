// Package wire is what a grandchild and a grandma on different machines
// say to each other beyond the story's lines: the protocol version, the
// script the grandchild asks for, and grandma's own record of the call,
// which she hands over at its end so that the grandchild can show both
// sides.
//
// Everything here is decoded from a peer, so every decoder checks what it
// reads and bounds how much it reads.
package wire

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// Version is the protocol this build speaks. A client and a server speak
// to each other only when their versions are equal.
const Version = 1

// Header names, on HTTP requests and responses and on the WebSocket
// opening handshake.
const (
	// HeaderVersion carries Version, both ways.
	HeaderVersion = "Duplexdemo-Protocol"
	// HeaderCall names the call a walkie request belongs to: the
	// grandchild picks it, at random, for each call.
	HeaderCall = "Duplexdemo-Call"
)

// MaxRecord bounds grandma's record of a call, as encoded, in bytes.
const MaxRecord = 64 << 10

// MaxLines bounds the lines one call may say to grandma, and so the
// connections it may use.
const MaxLines = 16

// maxEvents bounds the events in grandma's record: a call has at most a
// few dozen lines, each with a handful of events.
const maxEvents = 512

// CheckVersion returns nil if v, a peer's protocol version as sent, is
// Version, and otherwise an error saying what each side speaks.
func CheckVersion(v, peer string) error {
	if v == "" {
		return fmt.Errorf("the %s speaks no duplexdemo protocol (this one speaks version %d): is it duplexdemo?", peer, Version)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n != Version {
		return fmt.Errorf("the %s speaks duplexdemo protocol %q and this one speaks version %d: run the same duplexdemo version on both", peer, v, Version)
	}
	return nil
}

// QueryPhoto is the query parameter that gives the size of the script's
// photo, in bytes (story.Options.Photo); absent for none. The photo is the
// same for the same size (story.New), so grandma builds it from its size
// and knows it when it comes.
const QueryPhoto = "photo"

// ScriptQuery encodes a script as URL query parameters, the way the
// grandchild asks a grandma elsewhere for it, with the protocol version.
// Its times are sent as they are, already scaled by any speed.
func ScriptQuery(s story.Script) url.Values {
	q := url.Values{}
	q.Set("protocol", strconv.Itoa(Version))
	q.Set("sentences", strconv.Itoa(len(s.Story)))
	q.Set("pace", s.Pace.String())
	q.Set("interrupt-at", s.InterruptAt.String())
	q.Set("afterthought-at", s.AfterthoughtAt.String())
	q.Set("goodbye-at", s.GoodbyeAt.String())
	if s.Photo != "" {
		q.Set(QueryPhoto, strconv.Itoa(len(s.Photo)))
	}
	return q
}

// ParseScript decodes and checks the script a grandchild asks for; the
// error says which option was wrong and what it must be.
func ParseScript(q url.Values) (story.Script, error) {
	if err := CheckVersion(q.Get("protocol"), "grandchild"); err != nil {
		return story.Script{}, err
	}
	o := story.Options{Speed: 1}
	var err error
	if o.Sentences, err = strconv.Atoi(q.Get("sentences")); err != nil {
		return story.Script{}, fmt.Errorf("sentences %q: want a whole number", q.Get("sentences"))
	}
	for _, d := range []struct {
		name string
		p    *time.Duration
	}{{"pace", &o.Pace}, {"interrupt-at", &o.InterruptAt}, {"afterthought-at", &o.AfterthoughtAt}, {"goodbye-at", &o.GoodbyeAt}} {
		v := q.Get(d.name)
		if v == "" {
			continue
		}
		if *d.p, err = time.ParseDuration(v); err != nil {
			return story.Script{}, fmt.Errorf("%s %q: want a duration such as 250ms", d.name, v)
		}
	}
	if o.Pace == 0 {
		return story.Script{}, errors.New("pace: missing")
	}
	if v := q.Get(QueryPhoto); v != "" {
		// Checked here, in the parameter's own unit: story.New would
		// write a bad size as --photo takes it (2MB), not as sent.
		if o.Photo, err = strconv.Atoi(v); err != nil || o.Photo < 1 || o.Photo > story.MaxPhoto {
			return story.Script{}, fmt.Errorf("%s %q: want the photo's size in bytes, a whole number from 1 to %d (%s), or no %s for none",
				QueryPhoto, v, story.MaxPhoto, story.PhotoSize(story.MaxPhoto), QueryPhoto)
		}
	}
	s, err := story.New(o)
	if err != nil {
		var oe *story.OptionError
		if errors.As(err, &oe) {
			return story.Script{}, fmt.Errorf("%s %s: %s", oe.Option, oe.Value, oe.Want)
		}
		return story.Script{}, err
	}
	return s, nil
}

// Record is grandma's own record of a call, on her clock: what she wanted to
// say, sent and heard, and when.
type Record struct {
	Protocol int `json:"protocol"`
	// DurationNS is how long her side of the call lasted.
	DurationNS int64 `json:"duration_ns"`
	// Connections is how many connections carried the call, as she saw
	// them: a browser may open more than one for a walkie call.
	Connections int `json:"connections"`
	// LatencyNS is the emulated link on her side (serve --latency).
	LatencyNS int64      `json:"latency_ns"`
	Events    []LogEvent `json:"events"`
}

// LogEvent is one event of grandma's record.
type LogEvent struct {
	AtNS     int64  `json:"at_ns"`
	Kind     string `json:"kind"`
	Msg      int    `json:"msg"`
	Label    string `json:"label,omitempty"`
	Text     string `json:"text,omitempty"`
	Reason   string `json:"reason,omitempty"`
	WaitedNS int64  `json:"waited_ns,omitempty"`
	// Bytes is the size of a photo (story.LabelPhoto), whose Text is
	// its short text (story.PhotoText); absent for any other line, whose
	// size is its text's.
	Bytes int `json:"bytes,omitempty"`
}

// RecordPrefix starts the line (on the walkie) or message (on the phone) that
// carries grandma's record; no line of the story starts with it.
const RecordPrefix = "{\"protocol\":"

// Facts are what grandma's record says besides her events: how many
// connections carried the call, and the emulated link on her side.
type Facts struct {
	Connections int
	Latency     time.Duration
}

// EncodeRecord writes grandma's record of a call as one line of JSON.
func EncodeRecord(tl *timeline.Timeline, f Facts) ([]byte, error) {
	return EncodeSideRecord(tl, timeline.Server, f)
}

// EncodeSideRecord writes one side's record of a call as one line of JSON:
// grandma's, which she hands over at the call's end, or the grandchild's,
// which she reports to the class (Report).
func EncodeSideRecord(tl *timeline.Timeline, side timeline.Side, f Facts) ([]byte, error) {
	l := Record{Protocol: Version, DurationNS: int64(tl.Duration), Connections: f.Connections, LatencyNS: int64(f.Latency)}
	for _, e := range tl.Events {
		if e.Side != side {
			continue
		}
		le := LogEvent{AtNS: int64(e.At), Kind: e.Kind.String(), Msg: int(e.Msg), Label: e.Label,
			Text: e.Text, Reason: e.Reason, WaitedNS: int64(e.Waited)}
		if e.Label == story.LabelPhoto {
			le.Bytes = e.Bytes
		}
		l.Events = append(l.Events, le)
	}
	b, err := json.Marshal(l)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxRecord {
		return nil, fmt.Errorf("%s record of the call is %d bytes, over the %d allowed", whose(side), len(b), MaxRecord)
	}
	return b, nil
}

// whose names a side's record in an error: "grandma's", "the grandchild's".
func whose(side timeline.Side) string {
	if side == timeline.Server {
		return "grandma's"
	}
	return "the grandchild's"
}

// DecodeRecord reads grandma's record of a call and rebuilds her timeline,
// checking everything: the protocol, the size, each event's kind and time,
// and that every message an event names is one she wanted to say, or
// heard. It also returns the facts her record states.
func DecodeRecord(data []byte, script story.Script) (*timeline.Timeline, Facts, error) {
	return DecodeSideRecord(data, script, timeline.Server)
}

// DecodeSideRecord is DecodeRecord for either side's record: grandma's, or
// the grandchild's as she reports it to the class.
func DecodeSideRecord(data []byte, script story.Script, side timeline.Side) (*timeline.Timeline, Facts, error) {
	l, err := decodeRecord(data, whose(side))
	if err != nil {
		return nil, Facts{}, err
	}
	tl, err := rebuild(l, script, side)
	return tl, Facts{Connections: l.Connections, Latency: time.Duration(l.LatencyNS)}, err
}

func decodeRecord(data []byte, whose string) (Record, error) {
	if len(data) > MaxRecord {
		return Record{}, fmt.Errorf("%s record of the call is %d bytes, over the %d allowed", whose, len(data), MaxRecord)
	}
	var l Record
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return Record{}, fmt.Errorf("%s record of the call is not valid: %w", whose, err)
	}
	if dec.More() {
		return Record{}, fmt.Errorf("%s record of the call has something after it", whose)
	}
	if l.Protocol != Version {
		return Record{}, fmt.Errorf("%s record of the call is in protocol %d; this one speaks %d", whose, l.Protocol, Version)
	}
	if len(l.Events) > maxEvents {
		return Record{}, fmt.Errorf("%s record of the call has %d events, over the %d allowed", whose, len(l.Events), maxEvents)
	}
	if l.Connections < 0 || l.Connections > MaxLines {
		return Record{}, fmt.Errorf("%s record of the call says %d connections carried it, which no call needs", whose, l.Connections)
	}
	if l.DurationNS < 0 || l.DurationNS > int64(story.MaxScriptTime+time.Hour) {
		return Record{}, fmt.Errorf("%s record of the call lasts %v, which no call does", whose, time.Duration(l.DurationNS))
	}
	if l.LatencyNS < 0 || l.LatencyNS > int64(time.Minute) {
		return Record{}, fmt.Errorf("%s record of the call gives its link a latency of %v, which no link has", whose, time.Duration(l.LatencyNS))
	}
	return l, nil
}

// rebuild turns a side's checked record into its timeline, checking each
// event against the script.
func rebuild(l Record, script story.Script, side timeline.Side) (*timeline.Timeline, error) {
	says := func(label string) bool { return fromServer(label) == (side == timeline.Server) }
	who := "grandma"
	if side == timeline.Client {
		who = "the grandchild"
	}
	tl := &timeline.Timeline{Duration: time.Duration(l.DurationNS)}
	msgs := map[int]int{} // message id in the log to index in tl.Messages
	var last int64
	for i, le := range l.Events {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%s record of the call, event %d: %s", whose(side), i, fmt.Sprintf(format, args...))
		}
		if le.AtNS < last || le.AtNS > l.DurationNS {
			return nil, bad("at %v, out of order or after the call", time.Duration(le.AtNS))
		}
		last = le.AtNS
		if le.WaitedNS < 0 || le.WaitedNS > le.AtNS {
			return nil, bad("waited %v, longer than the call so far", time.Duration(le.WaitedNS))
		}
		kind, ok := kindNamed(le.Kind)
		if !ok {
			return nil, bad("unknown kind %q", le.Kind)
		}
		e := timeline.Event{At: time.Duration(le.AtNS), Side: side, Kind: kind, Msg: timeline.NoMsg,
			Label: le.Label, Text: le.Text, Bytes: len(le.Text), Reason: le.Reason, Waited: time.Duration(le.WaitedNS)}
		if le.Bytes != 0 && le.Label != story.LabelPhoto {
			return nil, bad("a size of %d bytes, which only a photo's events give", le.Bytes)
		}
		switch kind {
		case timeline.KindConnect, timeline.KindClose:
			if le.Msg != int(timeline.NoMsg) {
				return nil, bad("a %s event names message %d", le.Kind, le.Msg)
			}
			tl.Events = append(tl.Events, e)
			continue
		}
		label, ok := script.LineLabel(le.Text)
		photo := le.Label == story.LabelPhoto
		if photo {
			// The record keeps the photo under its short text, with its size.
			if err := checkPhoto(le, script); err != nil {
				return nil, bad("%v", err)
			}
			label, ok, e.Bytes = story.LabelPhoto, true, le.Bytes
		}
		if !ok || label != le.Label {
			return nil, bad("%q is not the script's %s", le.Text, le.Label)
		}
		idx, seen := msgs[le.Msg]
		switch kind {
		case timeline.KindWant:
			if seen {
				return nil, bad("message %d wanted twice", le.Msg)
			}
			if !says(label) {
				return nil, bad("%s cannot want to say the %s", who, label)
			}
			idx = len(tl.Messages)
			msgs[le.Msg] = idx
			m := timeline.Message{ID: timeline.MsgID(idx), From: side, Label: label, Text: le.Text, Reason: le.Reason, WantedAt: e.At}
			if photo {
				m = m.AsPhoto(le.Bytes)
			}
			tl.Messages = append(tl.Messages, m)
		case timeline.KindHeard:
			if seen {
				return nil, bad("message %d heard twice", le.Msg)
			}
			if says(label) {
				return nil, bad("%s cannot hear her own %s", who, label)
			}
			idx = len(tl.Messages)
			msgs[le.Msg] = idx
			m := timeline.Message{ID: timeline.MsgID(idx), From: side.Peer(), Label: label, Text: le.Text, Heard: true, HeardAt: e.At}
			if photo {
				m = m.AsPhoto(le.Bytes)
			}
			tl.Messages = append(tl.Messages, m)
		case timeline.KindWaiting, timeline.KindSend:
			if !seen || tl.Messages[idx].From != side || tl.Messages[idx].Text != le.Text {
				return nil, bad("a %s event for message %d, which %s never wanted to say", le.Kind, le.Msg, who)
			}
			if kind == timeline.KindSend {
				m := &tl.Messages[idx]
				if m.Sent {
					return nil, bad("message %d sent twice", le.Msg)
				}
				m.Sent, m.SentAt = true, e.At
			}
		}
		e.Msg = timeline.MsgID(idx)
		tl.Events = append(tl.Events, e)
	}
	return tl, nil
}

// checkPhoto says what is wrong with an event of a photo, if anything:
// the script must have one, and the event must give it as the recorder
// keeps it, under its short text (story.PhotoText) with its size.
func checkPhoto(le LogEvent, script story.Script) error {
	if script.Photo == "" {
		return fmt.Errorf("a photo (%q), but the script has none", le.Text)
	}
	if size := len(script.Photo); le.Text != story.PhotoText(size) || le.Bytes != size {
		return fmt.Errorf("a photo of %d bytes as %q, but the script's is %d bytes, %q", le.Bytes, le.Text, size, story.PhotoText(size))
	}
	return nil
}

// kindNamed returns the kind whose String is name.
func kindNamed(name string) (timeline.Kind, bool) {
	for k := timeline.KindConnect; k <= timeline.KindClose; k++ {
		if k.String() == name {
			return k, true
		}
	}
	return 0, false
}

// fromServer says whether a line of the script is grandma's to say.
func fromServer(label string) bool {
	switch label {
	case story.LabelStory, story.LabelAnswer, story.LabelAfterthought, story.LabelFarewell:
		return true
	}
	return false
}

// ServerURL checks a grandma's address as a user gives it (a URL such as
// http://192.168.1.20:8080, or host:port) and returns its base URL with
// scheme, "http" or "ws" as the call needs, and no path.
func ServerURL(s, scheme string) (string, error) {
	if s == "" {
		return "", errors.New("want a server URL such as http://192.168.1.20:8080")
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("%q: want a server URL such as http://192.168.1.20:8080", s)
	}
	switch u.Scheme {
	case "http", "ws":
	case "https", "wss":
		return "", fmt.Errorf("%q: duplexdemo serve speaks plain http; want http://", s)
	default:
		return "", fmt.Errorf("%q: want an http:// URL such as http://192.168.1.20:8080", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%q: the port must be a number from 1 to 65535, such as 8080", s)
		}
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
		return "", fmt.Errorf("%q: want only the server's address, such as http://192.168.1.20:8080, with no path", s)
	}
	return scheme + "://" + u.Host, nil
}

// NewCallID returns a fresh random id for a call.
func NewCallID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// ValidCallID says whether id is one NewCallID could have made.
func ValidCallID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// ReportPath is where a grandchild reports a call she made to the class
// experiment (duplexdemo serve's teacher's view), once it is over: a POST
// of a Report, as JSON.
const ReportPath = "/class/calls"

// QueryCall is the query parameter of a phone call's opening handshake
// that names the call, as HeaderCall does each walkie request: what a
// Report names it by. A browser cannot set headers on a WebSocket.
const QueryCall = "call"

// MaxReport bounds a Report, as encoded, in bytes.
const MaxReport = MaxRecord + 1<<10

// Report is a grandchild's report of a call to the class: which call
// (its id, as she named it to grandma), the student's anonymous name, and
// her own record of the call (EncodeSideRecord of her side), which grandma
// joins with hers, as the grandchild does at the end of the call.
type Report struct {
	Protocol int             `json:"protocol"`
	Call     string          `json:"call"`
	Student  string          `json:"student"`
	Record   json.RawMessage `json:"record"`
}

// DecodeReport reads and checks a grandchild's report (but not the record
// it carries: DecodeSideRecord does, against the call's script).
func DecodeReport(data []byte) (Report, error) {
	if len(data) > MaxReport {
		return Report{}, fmt.Errorf("the report is %d bytes, over the %d allowed", len(data), MaxReport)
	}
	var r Report
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Report{}, fmt.Errorf("the report is not valid JSON of a report: %v", err)
	}
	if dec.More() {
		return Report{}, errors.New("the report has something after it")
	}
	if r.Protocol != Version {
		return Report{}, fmt.Errorf("the report is in protocol %d; this one speaks %d", r.Protocol, Version)
	}
	if !ValidCallID(r.Call) {
		return Report{}, errors.New("the report names no call: want the call's id, 32 hex digits, as its requests (" + HeaderCall + ") or its WebSocket (?" + QueryCall + "=) named it")
	}
	if len(r.Record) == 0 {
		return Report{}, errors.New("the report carries no record of the call")
	}
	return r, nil
}
