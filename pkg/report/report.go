// Package report turns what a call measured into the numbers people read:
// the summary of the interruption and the afterthought, each side's time
// talking, listening and waiting, the overlap, the bytes; and the JSON
// object that --json prints.
package report

import (
	"math"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// Report is one call, as printed by --json. Times are milliseconds since
// the grandchild wanted to ask the question, to the microsecond.
type Report struct {
	Mode      string `json:"mode"`
	Transport string `json:"transport"`
	// ServerMayStart says whether grandma may speak without being asked.
	ServerMayStart bool    `json:"server_may_start"`
	LatencyMS      float64 `json:"latency_ms"`
	DurationMS     float64 `json:"duration_ms"`
	// Server is grandma's URL when she was served elsewhere
	// (duplexdemo serve); absent when both sides ran in one process.
	Server string `json:"server,omitempty"`
	// ClockAlignment, present with Server, is how grandma's clock was placed
	// on the grandchild's, which all times are on.
	ClockAlignment *Alignment `json:"clock_alignment,omitempty"`
	// ServerLatencyMS, with Server, is the emulated link on grandma's side
	// (serve --latency), on top of LatencyMS.
	ServerLatencyMS float64 `json:"server_latency_ms,omitempty"`
	Events          []Event `json:"events"`
	Spans           []Span  `json:"spans"`
	Summary         Summary `json:"summary"`
}

// Event is one recorded moment.
type Event struct {
	TMS   float64 `json:"t_ms"`
	Side  string  `json:"side"`
	Kind  string  `json:"kind"`
	Label string  `json:"label,omitempty"`
	Text  string  `json:"text"`
	Bytes int     `json:"bytes"`
	// Reason is on waiting events: why the line could not be said yet.
	Reason string `json:"reason,omitempty"`
	// WaitedMS is on send events: how long the line waited for the channel;
	// on waiting events, how long it had waited so far.
	WaitedMS *float64 `json:"waited_ms,omitempty"`
}

// Span is a stretch of time a side spent in one state: talking,
// listening, waiting or idle.
type Span struct {
	Side    string  `json:"side"`
	State   string  `json:"state"`
	StartMS float64 `json:"start_ms"`
	EndMS   float64 `json:"end_ms"`
	// Label names what the side said, heard or waited to say ("story").
	Label  string `json:"label,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Summary holds the numbers that tell the two modes apart.
type Summary struct {
	Interruption Moment `json:"interruption"`
	Afterthought Moment `json:"afterthought"`
	// OverlapMS is how long both directions were in flight at once.
	OverlapMS    float64    `json:"overlap_ms"`
	Bytes        Directions `json:"bytes"`
	PayloadBytes Directions `json:"payload_bytes"`
	Connections  int        `json:"connections"`
	// Messages is how many lines were sent, both sides together.
	Messages int       `json:"messages"`
	Client   SideTimes `json:"client"`
	Server   SideTimes `json:"server"`
	// Requests, EmptyReplies and EmptyBytes are for a call by polling:
	// the grandchild's requests, the polls that brought nothing, and the
	// bytes those spent, both ways. Absent for other modes.
	Requests     int   `json:"requests,omitempty"`
	EmptyReplies int   `json:"empty_replies,omitempty"`
	EmptyBytes   int64 `json:"empty_bytes,omitempty"`
	// NoPollGaps and NoPollMS are for long polling: the stretches in which
	// grandma held no poll and could not speak, and their total length.
	NoPollGaps int     `json:"no_poll_gaps,omitempty"`
	NoPollMS   float64 `json:"no_poll_ms,omitempty"`
}

// Moment is the measured life of one key line. A time is null when it did
// not happen (the line was never sent, or never heard). Reason says why it
// waited, when it waited at least a millisecond.
type Moment struct {
	Text         string   `json:"text"`
	Reason       string   `json:"reason,omitempty"`
	WantedAtMS   *float64 `json:"wanted_at_ms"`
	SentAtMS     *float64 `json:"sent_at_ms"`
	HeardAtMS    *float64 `json:"heard_at_ms"`
	WaitedMS     *float64 `json:"waited_ms"`
	HeardAfterMS *float64 `json:"heard_after_ms"`
}

// Directions counts bytes each way.
type Directions struct {
	ClientToServer int64 `json:"client_to_server"`
	ServerToClient int64 `json:"server_to_client"`
}

// SideTimes is how long a side spent in each state; a side can listen and
// wait at once, so these may add up to more than the call. A one-line
// utterance takes no measurable time to say or hear, so the line counts
// tell whether a side spoke or heard at all.
type SideTimes struct {
	TalkingMS   float64 `json:"talking_ms"`
	ListeningMS float64 `json:"listening_ms"`
	WaitingMS   float64 `json:"waiting_ms"`
	LinesSaid   int     `json:"lines_said"`
	LinesHeard  int     `json:"lines_heard"`
}

// Alignment is how a grandma elsewhere had her clock placed on the
// grandchild's: her times moved by OffsetMS, each true to within
// ± UncertaintyMS (about half a round trip).
type Alignment struct {
	OffsetMS      float64 `json:"offset_ms"`
	UncertaintyMS float64 `json:"uncertainty_ms"`
}

// MS converts a duration to milliseconds, rounded to the microsecond.
func MS(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

func msPtr(d time.Duration) *float64 {
	v := MS(d)
	return &v
}

// Build assembles the report of one call.
func Build(r *call.Result) Report {
	tl := r.Timeline
	spans := tl.Spans()
	out := Report{
		Mode:            r.Mode,
		Transport:       r.Transport,
		ServerMayStart:  r.ServerMayStart,
		LatencyMS:       MS(r.Latency),
		DurationMS:      MS(tl.Duration),
		Events:          make([]Event, 0, len(tl.Events)),
		Spans:           make([]Span, 0, len(spans)),
		Server:          r.Server,
		ServerLatencyMS: MS(r.ServerLatency),
	}
	if a := r.Alignment; a != nil {
		out.ClockAlignment = &Alignment{OffsetMS: MS(a.Offset), UncertaintyMS: MS(a.Uncertainty)}
	}
	for _, e := range tl.Events {
		ev := Event{TMS: MS(e.At), Side: e.Side.String(), Kind: e.Kind.String(), Label: e.Label, Text: e.Text, Bytes: e.Bytes, Reason: e.Reason}
		if e.Kind == timeline.KindSend || e.Kind == timeline.KindWaiting {
			ev.WaitedMS = msPtr(e.Waited)
		}
		if e.Kind != timeline.KindWaiting {
			ev.Reason = ""
		}
		out.Events = append(out.Events, ev)
	}
	for _, s := range spans {
		out.Spans = append(out.Spans, Span{Side: s.Side.String(), State: s.State.String(), StartMS: MS(s.Start), EndMS: MS(s.End), Label: s.Label, Reason: s.Reason})
	}
	payload := r.PayloadBytes()
	out.Summary = Summary{
		Interruption: moment(tl, story.LabelInterruption, story.Interruption),
		Afterthought: moment(tl, story.LabelAfterthought, story.Afterthought),
		OverlapMS:    MS(tl.Overlap()),
		Bytes:        Directions{ClientToServer: r.WireBytes[timeline.Client], ServerToClient: r.WireBytes[timeline.Server]},
		PayloadBytes: Directions{ClientToServer: payload[timeline.Client], ServerToClient: payload[timeline.Server]},
		Connections:  r.Connections,
		Requests:     r.Requests,
		EmptyReplies: r.EmptyReplies,
		EmptyBytes:   r.EmptyBytes,
		NoPollGaps:   r.NoPollGaps,
		NoPollMS:     MS(r.NoPollTime),
		Client:       sideTimes(tl, spans, timeline.Client),
		Server:       sideTimes(tl, spans, timeline.Server),
	}
	out.Summary.Messages = out.Summary.Client.LinesSaid + out.Summary.Server.LinesSaid
	return out
}

// moment reports the first line with label; text is what it says, for a
// line that was never even wanted.
func moment(tl *timeline.Timeline, label, text string) Moment {
	m, ok := tl.Message(label)
	if !ok {
		return Moment{Text: text}
	}
	out := Moment{Text: m.Text, WantedAtMS: msPtr(m.WantedAt)}
	if m.Sent {
		out.SentAtMS, out.WaitedMS = msPtr(m.SentAt), msPtr(m.Waited())
	}
	if !m.Sent || m.Waited() >= timeline.Resolution {
		out.Reason = m.Reason
	}
	if m.Heard {
		out.HeardAtMS, out.HeardAfterMS = msPtr(m.HeardAt), msPtr(m.HeardAfter())
	}
	return out
}

func sideTimes(tl *timeline.Timeline, spans []timeline.Span, side timeline.Side) SideTimes {
	t := SideTimes{
		TalkingMS:   MS(timeline.TimeIn(spans, side, timeline.Talking)),
		ListeningMS: MS(timeline.TimeIn(spans, side, timeline.Listening)),
		WaitingMS:   MS(timeline.TimeIn(spans, side, timeline.Waiting)),
	}
	for _, m := range tl.Messages {
		if m.Sent && m.From == side {
			t.LinesSaid++
		}
		if m.Heard && m.From == side.Peer() {
			t.LinesHeard++
		}
	}
	return t
}
