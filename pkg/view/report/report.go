// Package report turns what a call measured into the numbers people read:
// the summary of the interruption and the afterthought, each side's time
// talking, listening and waiting, the overlap, the bytes; and the JSON
// object that --json prints.
package report

import (
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// Call is one call, as printed by --json. Times are milliseconds since
// the grandchild wanted to ask the question, to the microsecond.
type Call struct {
	// Mode is the mode's key ("walkie"), Name the mode in words ("the
	// walkie-talkie").
	Mode      string `json:"mode"`
	Name      string `json:"name"`
	Transport string `json:"transport"`
	// ServerMayStart says whether grandma may speak without being asked.
	ServerMayStart bool `json:"server_may_start"`
	// Note is what the numbers cannot show about the mode (result.Mode's
	// Note); absent when the mode has none.
	Note       string  `json:"note,omitempty"`
	LatencyMS  float64 `json:"latency_ms"`
	DurationMS float64 `json:"duration_ms"`
	// Server is grandma's URL when she was served elsewhere
	// (duplexdemo serve); absent when both sides ran in one process.
	Server string `json:"server,omitempty"`
	// ClockAlignment, present with Server, is how grandma's clock was placed
	// on the grandchild's, which all times are on.
	ClockAlignment *Alignment `json:"clock_alignment,omitempty"`
	// ServerLatencyMS, with Server, is the emulated link on grandma's side
	// (serve --latency), on top of LatencyMS.
	ServerLatencyMS float64 `json:"server_latency_ms,omitempty"`
	// Link is the emulated link's shape beyond its latency; absent when it
	// had no bandwidth limit and no jitter.
	Link *Link `json:"link,omitempty"`
	// LinkBusy are the times the link spent serialising bytes, with a
	// bandwidth: from is the side whose bytes they were.
	LinkBusy []LinkSpan `json:"link_busy,omitempty"`
	Events   []Event    `json:"events"`
	Spans    []Span     `json:"spans"`
	Summary  Summary    `json:"summary"`
}

// Link is an emulated link's bandwidth (bits per second, 0 unlimited),
// its jitter and the seed the jitter was drawn with.
type Link struct {
	BandwidthBPS int64   `json:"bandwidth_bps"`
	JitterMS     float64 `json:"jitter_ms"`
	Seed         uint64  `json:"seed"`
}

// LinkSpan is a time the link spent serialising one side's bytes.
type LinkSpan struct {
	From    string  `json:"from"`
	StartMS float64 `json:"start_ms"`
	EndMS   float64 `json:"end_ms"`
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
	// OverlapMS is how long bytes were on the link both ways at once: a line
	// is on the link from being sent until it is heard.
	OverlapMS    float64    `json:"overlap_ms"`
	Bytes        Directions `json:"bytes"`
	PayloadBytes Directions `json:"payload_bytes"`
	Connections  int        `json:"connections"`
	// PerConnection is each connection's bytes each way, in the order they
	// were opened, with the grandchild's port when it was TCP.
	PerConnection []ConnBytes `json:"per_connection"`
	// Messages is how many lines were sent, both sides together.
	Messages int `json:"messages"`
	// LinkBusyMS is how long the link spent serialising each way, with a
	// bandwidth; absent without one.
	LinkBusyMS *BusyMS `json:"link_busy_ms,omitempty"`
	// Photo is the grandchild's photo, when the call had one (--photo).
	Photo  *Photo    `json:"photo,omitempty"`
	Client SideTimes `json:"client"`
	Server SideTimes `json:"server"`
	// Facts are the counts only this call's mode keeps, such as the HTTP
	// requests it took or the polls that brought nothing; empty for a mode
	// that keeps none.
	Facts []Fact `json:"facts"`
}

// Photo is the measured life of the grandchild's photo, and how long the
// interruption behind it waited on the link.
type Photo struct {
	Bytes      int      `json:"bytes"`
	WantedAtMS *float64 `json:"wanted_at_ms"`
	SentAtMS   *float64 `json:"sent_at_ms"`
	HeardAtMS  *float64 `json:"heard_at_ms"`
	// InterruptionBehindPhotoMS is how long the interruption waited while
	// the link carried the photo up: the client → server busy time after
	// both were under way and before either had left (its own bytes, a
	// line's worth, included); 0 if the photo was already across. nil
	// (null) on a link without a bandwidth, where nothing queues, and
	// where the link is not known (a class's record of a student's call).
	InterruptionBehindPhotoMS *float64 `json:"interruption_behind_photo_ms"`
}

// BusyMS is a time each way, in ms.
type BusyMS struct {
	ClientToServer float64 `json:"client_to_server"`
	ServerToClient float64 `json:"server_to_client"`
}

// Fact is one count a mode keeps of its own call. Unit is "" for a plain
// count, "B" for bytes, "ms" for milliseconds.
type Fact struct {
	Key   string  `json:"key"`
	Title string  `json:"title"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Compared says it earns a row when calls are set side by side.
	Compared bool `json:"compared"`
}

// Fact returns the fact with key, and whether the call has it.
func (s Summary) Fact(key string) (Fact, bool) {
	for _, f := range s.Facts {
		if f.Key == key {
			return f, true
		}
	}
	return Fact{}, false
}

// ConnBytes is one connection's bytes each way.
type ConnBytes struct {
	ClientPort     int   `json:"client_port,omitempty"`
	ClientToServer int64 `json:"client_to_server"`
	ServerToClient int64 `json:"server_to_client"`
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

func msPtr(d time.Duration) *float64 {
	v := result.MS(d)
	return &v
}

// Build assembles the report of one call.
func Build(r *result.Result) Call {
	tl := r.Timeline
	spans := tl.Spans()
	out := Call{
		Mode:            r.Mode.Key,
		Name:            r.Mode.Name,
		Transport:       r.Mode.Transport,
		ServerMayStart:  r.Mode.ServerMayStart,
		Note:            r.Mode.Note,
		LatencyMS:       result.MS(r.Latency),
		DurationMS:      result.MS(tl.Duration),
		Events:          make([]Event, 0, len(tl.Events)),
		Spans:           make([]Span, 0, len(spans)),
		Server:          r.Server,
		ServerLatencyMS: result.MS(r.ServerLatency),
	}
	if a := r.Alignment; a != nil {
		out.ClockAlignment = &Alignment{OffsetMS: result.MS(a.Offset), UncertaintyMS: result.MS(a.Uncertainty)}
	}
	if l := r.Link; l != (result.Link{}) {
		out.Link = &Link{BandwidthBPS: l.Bandwidth, JitterMS: result.MS(l.Jitter), Seed: l.Seed}
	}
	for _, b := range r.BusySpans {
		out.LinkBusy = append(out.LinkBusy, LinkSpan{From: b.From.String(), StartMS: result.MS(b.Start), EndMS: result.MS(b.End)})
	}
	for _, e := range tl.Events {
		ev := Event{TMS: result.MS(e.At), Side: e.Side.String(), Kind: e.Kind.String(), Label: e.Label, Text: e.Text, Bytes: e.Bytes, Reason: e.Reason}
		if e.Kind == timeline.KindSend || e.Kind == timeline.KindWaiting {
			ev.WaitedMS = msPtr(e.Waited)
		}
		if e.Kind != timeline.KindWaiting {
			ev.Reason = ""
		}
		out.Events = append(out.Events, ev)
	}
	for _, s := range spans {
		out.Spans = append(out.Spans, Span{Side: s.Side.String(), State: s.State.String(), StartMS: result.MS(s.Start), EndMS: result.MS(s.End), Label: s.Label, Reason: s.Reason})
	}
	payload := r.PayloadBytes()
	out.Summary = Summary{
		Interruption: moment(tl, story.LabelInterruption, story.Interruption),
		Afterthought: moment(tl, story.LabelAfterthought, story.Afterthought),
		OverlapMS:    result.MS(tl.Overlap()),
		Bytes:        Directions{ClientToServer: r.WireBytes[timeline.Client], ServerToClient: r.WireBytes[timeline.Server]},
		PayloadBytes: Directions{ClientToServer: payload[timeline.Client], ServerToClient: payload[timeline.Server]},
		Connections:  r.Connections,
		Client:       sideTimes(tl, spans, timeline.Client),
		Server:       sideTimes(tl, spans, timeline.Server),
	}
	out.Summary.Messages = out.Summary.Client.LinesSaid + out.Summary.Server.LinesSaid
	if r.Link.Bandwidth > 0 {
		out.Summary.LinkBusyMS = &BusyMS{ClientToServer: result.MS(r.Busy[timeline.Client]), ServerToClient: result.MS(r.Busy[timeline.Server])}
	}
	out.Summary.Photo = photo(r)
	out.Summary.Facts = []Fact{}
	out.Summary.PerConnection = []ConnBytes{}
	for _, c := range r.PerConnection {
		out.Summary.PerConnection = append(out.Summary.PerConnection, ConnBytes{ClientPort: c.ClientPort, ClientToServer: c.Bytes[timeline.Client], ServerToClient: c.Bytes[timeline.Server]})
	}
	for _, f := range r.Facts {
		out.Summary.Facts = append(out.Summary.Facts, Fact{Key: f.Key, Title: f.Title, Value: f.Value, Unit: string(f.Unit), Compared: f.Compared})
	}
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

// photo reports the call's photo, or nil if it had none.
//
// The interruption queued behind the photo for as long as the link spent
// serialising client → server bytes while both were under way: after the
// photo was sent and before its last bytes left (it is heard a latency
// later), and after the interruption was wanted and before its own last
// bytes left. That holds however a mode queues it: behind the photo's
// bytes on the one stream (the phone), behind the photo's request on the
// one connection (the walkie), or interleaved with them on a stream of
// its own (HTTP/2), where it waits only for the photo's bytes let onto
// the connection ahead of its own. 0 if the link was idle then, the photo
// already across; unknown (nil) without a bandwidth.
func photo(r *result.Result) *Photo {
	m, ok := r.Timeline.Message(story.LabelPhoto)
	if !ok {
		return nil
	}
	p := &Photo{Bytes: m.Bytes(), WantedAtMS: msPtr(m.WantedAt)}
	if m.Sent {
		p.SentAtMS = msPtr(m.SentAt)
	}
	if m.Heard {
		p.HeardAtMS = msPtr(m.HeardAt)
	}
	i, ok := r.Timeline.Message(story.LabelInterruption)
	if !ok || !m.Sent || r.Link.Bandwidth == 0 {
		return p
	}
	// The end of a line's crossing on the sender's side: a latency before
	// it was heard, or the call's end if it never was.
	left := func(m timeline.Message) time.Duration {
		if m.Heard {
			return max(m.HeardAt-r.Latency-r.ServerLatency, m.SentAt) // grandma's own link too, when she is elsewhere
		}
		return r.Timeline.Duration
	}
	from, to := max(m.SentAt, i.WantedAt), min(left(m), left(i))
	var queued time.Duration
	for _, b := range r.BusySpans {
		if b.From == timeline.Client {
			queued += max(min(b.End, to)-max(b.Start, from), 0)
		}
	}
	p.InterruptionBehindPhotoMS = msPtr(queued)
	return p
}

func sideTimes(tl *timeline.Timeline, spans []timeline.Span, side timeline.Side) SideTimes {
	t := SideTimes{
		TalkingMS:   result.MS(timeline.TimeIn(spans, side, timeline.Talking)),
		ListeningMS: result.MS(timeline.TimeIn(spans, side, timeline.Listening)),
		WaitingMS:   result.MS(timeline.TimeIn(spans, side, timeline.Waiting)),
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
