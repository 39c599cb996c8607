package class

import (
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/view/report"
)

// Row is a call as the teacher's view draws it: who, which mode, its four
// numbers, and its swimlanes (its spans; nil when the view is sent only
// its numbers).
type Row struct {
	ID              int       `json:"id"`
	Student         string    `json:"student"`
	Mode            string    `json:"mode"`
	Name            string    `json:"name"`
	Ended           time.Time `json:"ended"`
	DurationMS      float64   `json:"duration_ms"`
	LatencyMS       float64   `json:"latency_ms"`
	ServerLatencyMS float64   `json:"server_latency_ms"`
	RoundTripMS     *float64  `json:"round_trip_ms"`
	Connections     int       `json:"connections"`
	// Variant says how the call's script differs from the class's.
	Variant string `json:"variant,omitempty"`
	// Values holds each of report.MomentMeasures by key: ms, or null when
	// it did not happen.
	Values map[string]*float64 `json:"values"`
	// Spans are the call's swimlanes, as --json gives them; omitted
	// (null) when not sent.
	Spans []report.Span `json:"spans"`
	// Interruption and Afterthought are the two lines' moments, with when
	// each was wanted, sent and heard, for the view to mark on the lanes.
	Interruption report.Moment `json:"interruption"`
	Afterthought report.Moment `json:"afterthought"`
}

// RowOf returns the row of a call, with its spans if lanes.
func RowOf(c Call, lanes bool) Row {
	r := Row{ID: c.ID, Student: c.Student, Mode: c.Mode, Name: c.Name, Ended: c.Ended, DurationMS: c.DurationMS,
		LatencyMS: c.LatencyMS, ServerLatencyMS: c.ServerLatencyMS, RoundTripMS: c.RoundTripMS(), Connections: c.Summary.Connections, Variant: c.Variant,
		Values: map[string]*float64{}, Interruption: c.Summary.Interruption, Afterthought: c.Summary.Afterthought}
	for _, m := range report.MomentMeasures() {
		r.Values[m.Key] = m.Get(c.Call)
	}
	if lanes {
		r.Spans = c.Spans
	}
	return r
}

// ViewRows is how many calls' lanes a view is sent when it connects: the
// newest, of every mode together. Newer calls always come with theirs.
const ViewRows = 60

// View is what the teacher's view is sent when it connects, and what
// duplexdemo report embeds in its page: the experiment, its stats and a
// row per call, oldest first, the newest ViewRows with their lanes (all
// of them for a report).
type View struct {
	Experiment Experiment `json:"experiment"`
	Stats      Stats      `json:"stats"`
	Calls      []Row      `json:"calls"`
	// Static says it is a saved report (duplexdemo report), not live.
	Static bool `json:"static,omitempty"`
}

// ViewOf returns the view of a record, with lanes for the newest lanes
// calls (all of them if lanes < 0).
func ViewOf(rec Record, stats Stats, lanes int) View {
	v := View{Experiment: rec.Experiment, Stats: stats, Calls: make([]Row, 0, len(rec.Calls))}
	for i, c := range rec.Calls {
		v.Calls = append(v.Calls, RowOf(c, lanes < 0 || i >= len(rec.Calls)-lanes))
	}
	return v
}
