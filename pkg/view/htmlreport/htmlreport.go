// Package htmlreport writes measured calls as one self-contained HTML page:
// the swimlanes drawn as SVG on a real time axis, every message as an arrow
// from the moment it was sent to the moment it was heard, each wait
// highlighted with its reason and measured length, and the numbers in
// tables. Several calls share one time axis, one above the other.
//
// The page loads nothing: its styles are inline, its pictures are inline
// SVG, it has no script, and its Content-Security-Policy forbids fetching
// anything, so it opens the same offline, on a projector and on paper.
package htmlreport

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/view/report"
)

//go:embed page.html.tmpl
var pageTemplate string

// pageTmpl is the page's skeleton and its tables, parsed once; the
// figure's calls, an element or more for every span and message, are
// written by figureHTML instead.
var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"ms":     result.MSText,
	"value":  func(m report.Measure, mode string) string { return m.ValueText(m.Values[mode], "–") },
	"bytes":  func(wire, payload int64) string { return report.BytesText(wire, payload, 0) },
	"moment": momentRows,
	"spent":  report.SpentText,
	"rate":   report.RateText,
	"photo":  story.PhotoSize,
}).Parse(pageTemplate))

// Write writes the page for the calls to w. With more than one call, the
// page also holds the table that sets them side by side.
func Write(w io.Writer, calls ...*result.Result) error {
	if len(calls) == 0 {
		return fmt.Errorf("htmlreport: no calls to draw")
	}
	p := build(calls)
	p.Figure.Body = figureHTML(&p.Figure)
	var b bytes.Buffer
	b.Grow(len(p.Figure.Body) + 64<<10)
	if err := pageTmpl.Execute(&b, p); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// page is what the template draws.
type page struct {
	Title    string
	Lede     string
	Figure   figure
	Calls    []callView
	Compare  *report.Table
	Latency  string
	Headline []string
	// Link says some call had a link with a bandwidth, whose lanes the
	// figure draws and its key explains.
	Link bool
}

// callView is one call's numbers.
type callView struct {
	Mode      string
	Transport string
	Report    report.Call
}

// Geometry of the figure, in SVG user units. Each call is drawn as an SVG
// of its own, stacked on one time axis, so that a printed page breaks
// between calls, never through one; every SVG is as wide as the page.
// Printed on A4 landscape, 10 mm margins, a unit is 0.87 CSS px, so the
// smallest text, 12 units, is 7.85 pt.
const (
	figWidth   = 1200.0
	labelWidth = 190.0
	rightPad   = 40.0
	plotWidth  = figWidth - labelWidth - rightPad
	headerH    = 30.0
	stripeH    = 18.0
	wireH      = 56.0
	callGap    = 34.0
	// axisGap is the room between a call's last lane and the time axis
	// under it: a call's SVG ends there.
	axisGap = 12.0
	// axisH is the height of the strip with the time axis's labels.
	axisH = 30.0
	// minMark is the narrowest a talking or listening bar is drawn, so that
	// a one-line utterance, which takes no measurable time, still shows;
	// and a time the link was busy, so that a short line's bytes show.
	minMark = 3.0
	// linkGap is the room between grandma's lane and the link's, linkH
	// the height of a lane of the link: one stripe, with room for its name.
	linkGap = 10.0
	linkH   = 44.0
	// charW is the width of a character of a label in the figure's bold
	// 14px text, taken wide, so that a label placed by it never runs off
	// the figure: in DejaVu Sans Bold, the widest of the fonts the page
	// may get, the figure's labels measure 8.2 a character on average and
	// 8.5 at most ("afterthought").
	charW = 8.8
	// edge is the room a label keeps from the figure's left and right.
	edge = 4.0
)

type figure struct {
	Width     float64
	PlotLeft  float64
	PlotRight float64
	Ticks     []tick
	Groups    []group
	// Body is the calls' markup, written by figureHTML.
	Body template.HTML
}

type tick struct {
	X     float64
	Label string
}

// group is one call in the figure: its title and its two lanes, with the
// messages between them.
type group struct {
	Mode, Title string
	// Desc says in a sentence what happened to the interruption.
	Desc string
	// Top and Bottom bound the call's SVG: from the room above its title
	// to just above the time axis.
	Top, Bottom float64
	Y           float64
	Lanes       []lane
	// Links are the lanes of a link with a bandwidth, up then down; none
	// without one.
	Links    []linkLane
	Messages []message
}

// linkLane is one direction of the link: the times it spent serialising
// From's bytes.
type linkLane struct {
	Mode, From, Name, Role string
	Y, BusyY               float64
	Busy                   []busy
}

// busy is a time the link was busy, drawn from X, W wide, and its true
// start and end.
type busy struct {
	X, W           float64
	StartMS, EndMS float64
}

type lane struct {
	Mode, Side, Name, Role string
	Y, Height              float64
	// StripeY are the tops of the talking, waiting and listening stripes.
	TalkY, WaitY, ListenY float64
	Talks, Listens        []bar
	Waits                 []wait
}

type bar struct {
	X, W  float64
	Label string
	// When is "at 600 ms", or "from 80 ms to 1330 ms".
	When string
}

type wait struct {
	X, Y, W float64
	Label   string
	Reason  string
	MS      float64
	Text    string
	TextX   float64
	TextEnd bool
	Outside bool
}

type message struct {
	// Key marks the lines the lesson is about, the interruption and the
	// afterthought, which the figure names.
	Key            bool
	LabelX, LabelY float64
	LabelEnd       bool
	From, To       string
	Label, Text    string
	X1, Y1, X2, Y2 float64
	SentMS         float64
	HeardMS        float64
}

func build(calls []*result.Result) page {
	p := page{}
	var total time.Duration
	var names, ways []string
	var reports []report.Call
	for _, c := range calls {
		total = max(total, c.Timeline.Duration)
		r := report.Build(c)
		reports = append(reports, r)
		p.Calls = append(p.Calls, callView{Mode: c.Mode.Key, Transport: c.Mode.Transport, Report: r})
		p.Headline = append(p.Headline, headline(c.Mode, r))
		names = append(names, c.Mode.Name)
		ways = append(ways, fmt.Sprintf("%s (%s)", c.Mode.Name, firstWord(c.Mode.Transport)))
	}
	total = max(total, time.Millisecond)
	p.Latency = latencyText(calls[0].Latency)
	p.Title = "duplexdemo: " + list(names, "and")
	if len(calls) > 1 {
		t := report.Compare(reports...)
		p.Compare = &t
		p.Title = "duplexdemo: " + list(names, "beside")
	}
	p.Lede = fmt.Sprintf("A grandchild calls grandma, played by duplexdemo %s: %s. Every bar, arrow and number was measured on the real connection.", p.Latency, list(ways, "and"))
	if r := p.Calls[0].Report; r.ClockAlignment != nil {
		p.Lede += fmt.Sprintf(" Grandma ran elsewhere, at %s: her times come from her own clock, placed on the grandchild's to within ± %s.", r.Server, result.MSText(r.ClockAlignment.UncertaintyMS))
	}

	x := func(d time.Duration) float64 {
		return labelWidth + float64(d)/float64(total)*plotWidth
	}
	f := figure{Width: figWidth, PlotLeft: labelWidth, PlotRight: labelWidth + plotWidth}
	y, top := 10.0, 0.0
	for i, c := range calls {
		g := group{Mode: c.Mode.Key, Title: fmt.Sprintf("%s: %s", c.Mode.Key, c.Mode.Transport), Desc: p.Headline[i], Top: top, Y: y + 20}
		y += headerH
		spans := c.Timeline.Spans()
		// Lay out each side's waits first: they decide how tall its lane is.
		var waits [2][]wait
		for _, s := range spans {
			if s.State == timeline.Waiting {
				waits[s.Side] = append(waits[s.Side], waitOf(x(s.Start), x(s.End), s))
			}
		}
		client := newLane(c.Mode.Key, timeline.Client, y, waits[timeline.Client])
		y += client.Height + wireH
		server := newLane(c.Mode.Key, timeline.Server, y, waits[timeline.Server])
		y += server.Height
		if busy := reports[i].LinkBusy; len(busy) > 0 {
			p.Link = true
			g.Links = linkLanes(c.Mode.Key, y+linkGap, busy, total)
			y += linkGap + 2*linkH + 4
		}
		y += callGap
		g.Bottom = y - callGap + axisGap
		top = g.Bottom
		lanes := map[timeline.Side]*lane{timeline.Client: &client, timeline.Server: &server}
		for _, s := range spans {
			l := lanes[s.Side]
			x1, x2 := x(s.Start), x(s.End)
			switch s.State {
			case timeline.Talking:
				l.Talks = append(l.Talks, barOf(x1, x2, "talking: "+s.Label, s))
			case timeline.Listening:
				l.Listens = append(l.Listens, barOf(x1, x2, "listening: "+s.Label, s))
			}
		}
		var keys []box
		for _, u := range c.Timeline.Utterances() {
			for i, m := range u.Messages {
				if !m.Heard {
					continue
				}
				from, to := lanes[m.From], lanes[m.From.Peer()]
				msg := message{From: m.From.String(), To: m.From.Peer().String(), Label: u.PartName(i), Text: m.Text,
					X1: x(m.SentAt), X2: x(m.HeardAt), SentMS: result.MS(m.SentAt), HeardMS: result.MS(m.HeardAt)}
				if m.From == timeline.Client {
					msg.Y1, msg.Y2 = from.Y+from.Height, to.Y
				} else {
					msg.Y1, msg.Y2 = from.Y, to.Y+to.Height
				}
				if u.Label == story.LabelInterruption || u.Label == story.LabelAfterthought {
					msg.Key = true
					placeKey(&msg, &keys)
				}
				g.Messages = append(g.Messages, msg)
			}
		}
		g.Lanes = []lane{client, server}
		f.Groups = append(f.Groups, g)
	}
	step := tickStep(total)
	for t := time.Duration(0); t <= total; t += step {
		f.Ticks = append(f.Ticks, tick{X: x(t), Label: tickLabel(t, step)})
	}
	p.Figure = f
	return p
}

// newLane lays out a side's lane from y down: a stripe for talking, as many
// rows of waits as they need not to cover each other or their labels, and a
// stripe for listening.
func newLane(mode string, side timeline.Side, y float64, waits []wait) lane {
	l := lane{Mode: mode, Side: side.String(), Y: y, TalkY: y + 6, WaitY: y + 6 + stripeH + 3}
	var rows waitRows
	for i := range waits {
		w := &waits[i]
		row := rows.place(w.extent())
		w.Y = l.WaitY + float64(row)*(stripeH+3)
	}
	l.Waits = waits
	n := max(len(rows.rows), 1)
	l.ListenY = l.WaitY + float64(n)*(stripeH+3)
	l.Height = l.ListenY + stripeH + 6 - y
	if side == timeline.Server {
		l.Name, l.Role = "grandma", "server"
	} else {
		l.Name, l.Role = "grandchild", "client"
	}
	return l
}

// linkLanes lays out the lanes of the link from y down, up (the
// grandchild's bytes) then down (grandma's), each with the times it was
// busy, at their true times on an axis total long.
func linkLanes(mode string, y float64, spans []report.LinkSpan, total time.Duration) []linkLane {
	lanes := []linkLane{
		{Mode: mode, From: timeline.Client.String(), Name: "link up", Role: "the grandchild's bytes", Y: y},
		{Mode: mode, From: timeline.Server.String(), Name: "link down", Role: "grandma's bytes", Y: y + linkH + 4},
	}
	totalMS := result.MS(total)
	for i := range lanes {
		l := &lanes[i]
		l.BusyY = l.Y + (linkH-stripeH)/2
		for _, s := range spans {
			if s.From != l.From {
				continue
			}
			x1, x2 := labelWidth+s.StartMS/totalMS*plotWidth, labelWidth+s.EndMS/totalMS*plotWidth
			if w := x2 - x1; w < minMark {
				x1 -= (minMark - w) / 2
				x2 = x1 + minMark
			}
			l.Busy = append(l.Busy, busy{X: x1, W: x2 - x1, StartMS: s.StartMS, EndMS: s.EndMS})
		}
	}
	return lanes
}

// waitOf lays out a wait from x1 to x2 and its label: inside the hatched
// bar when it fits, else after it, or before it when after it would run
// off the figure.
func waitOf(x1, x2 float64, s timeline.Span) wait {
	w := wait{X: x1, W: x2 - x1, Label: s.Label, Reason: s.Reason, MS: result.MS(s.End - s.Start)}
	w.Text = fmt.Sprintf("%s waited %s: %s", s.Label, result.MSText(w.MS), s.Reason)
	tw := textWidth(w.Text)
	if tw+12 <= w.W {
		w.TextX = x1 + 6
		return w
	}
	w.Outside = true
	w.TextX, w.TextEnd = inside(x2+6, x1-6, tw)
	return w
}

// inside returns where a label tw wide goes: starting at after, if it
// ends inside the figure there, else ending at before (end is true), if it
// starts inside the figure there, else ending at the figure's right edge,
// the one place left where all of it shows.
func inside(after, before, tw float64) (x float64, end bool) {
	switch {
	case after+tw <= figWidth-edge:
		return after, false
	case before-tw >= edge:
		return before, true
	}
	return max(figWidth-edge-tw, edge), false
}

// textBox is the left and right of a label at x, tw wide.
func textBox(x, tw float64, end bool) (left, right float64) {
	if end {
		return x - tw, x
	}
	return x, x + tw
}

// extent is the box a wait and its label take, with a margin.
func (w wait) extent() box {
	left, right := textBox(w.TextX, textWidth(w.Text), w.TextEnd)
	return box{min(w.X, left) - 4, 0, max(w.X+w.W, right) + 4, 1}
}

// placeKey puts a key message's label beside the end of its arrow (or
// before its start, near the figure's right edge), moving it down a line
// at a time until it covers no label placed before.
func placeKey(m *message, placed *[]box) {
	tw := textWidth(m.Label)
	m.LabelX, m.LabelEnd = inside(max(m.X1, m.X2)+8, min(m.X1, m.X2)-8, tw)
	m.LabelY = (m.Y1+m.Y2)/2 + 5
	at := func() box {
		left, right := textBox(m.LabelX, tw, m.LabelEnd)
		return box{left - 4, m.LabelY - 14, right + 4, m.LabelY + 4}
	}
	for tries := 0; tries < 3 && overlapsAny(at(), *placed); tries++ {
		m.LabelY += 17
	}
	*placed = append(*placed, at())
}

// box is a rectangle of the figure: x1, y1 to x2, y2.
type box struct{ x1, y1, x2, y2 float64 }

func overlapsAny(b box, placed []box) bool {
	for _, p := range placed {
		if b.x1 < p.x2 && p.x1 < b.x2 && b.y1 < p.y2 && p.y1 < b.y2 {
			return true
		}
	}
	return false
}

// textWidth estimates the width of a label in the figure's bold 14px text.
func textWidth(s string) float64 { return float64(utf8.RuneCountInString(s)) * charW }

func barOf(x1, x2 float64, label string, s timeline.Span) bar {
	w := x2 - x1
	if w < minMark {
		x1 -= (minMark - w) / 2
		w = minMark
	}
	start, end := result.MSText(result.MS(s.Start)), result.MSText(result.MS(s.End))
	when := "at " + start
	if start != end {
		when = "from " + start + " to " + end
	}
	return bar{X: x1, W: w, Label: label, When: when}
}

// list joins words as a sentence does: "a", "a and b", "a, b and c".
func list(words []string, and string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " " + and + " " + words[len(words)-1]
}

// firstWord is a transport's first word: "HTTP/1.1", "WebSocket".
func firstWord(transport string) string {
	if f := strings.Fields(transport); len(f) > 0 {
		return strings.TrimRight(f[0], ",")
	}
	return transport
}

// headline says in one sentence what happened to the interruption.
func headline(m result.Mode, r report.Call) string {
	in := r.Summary.Interruption
	name := capitalize(m.Name)
	switch {
	case in.WantedAtMS == nil:
		return fmt.Sprintf("%s: the grandchild never wanted to interrupt.", name)
	case in.HeardAfterMS == nil:
		return fmt.Sprintf("%s: the grandchild's interruption was never heard.", name)
	case in.WaitedMS != nil && *in.WaitedMS >= 1:
		return fmt.Sprintf("%s: the interruption waited %s (%s) and was heard %s after the grandchild wanted to say it.",
			name, result.MSText(*in.WaitedMS), in.Reason, result.MSText(*in.HeardAfterMS))
	}
	return fmt.Sprintf("%s: the interruption went at once and was heard %s after the grandchild wanted to say it.", name, result.MSText(*in.HeardAfterMS))
}

// capitalize starts a name with a capital, for the start of a sentence.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// row is one row of a call's moments table.
type row struct {
	Name                       string
	Interruption, Afterthought string
	Strong                     bool
}

func momentRows(s report.Summary) []row {
	t := func(v *float64, never string) string {
		if v == nil {
			return never
		}
		return result.MSText(*v)
	}
	reason := func(m report.Moment) string {
		if m.WaitedMS == nil || *m.WaitedMS < 1 {
			return "–"
		}
		return m.Reason
	}
	in, af := s.Interruption, s.Afterthought
	return []row{
		{"wanted at", t(in.WantedAtMS, "never"), t(af.WantedAtMS, "never"), false},
		{"sent at", t(in.SentAtMS, "never"), t(af.SentAtMS, "never"), false},
		{"heard at", t(in.HeardAtMS, "never"), t(af.HeardAtMS, "never"), false},
		{"waited", t(in.WaitedMS, "–"), t(af.WaitedMS, "–"), true},
		{"because", reason(in), reason(af), false},
		{"heard after", t(in.HeardAfterMS, "–"), t(af.HeardAfterMS, "–"), true},
	}
}

func latencyText(d time.Duration) string {
	if d == 0 {
		return "with no added latency"
	}
	return fmt.Sprintf("with %s of latency each way", result.MSText(result.MS(d)))
}

// tickStep picks a round step that gives the axis five to twelve ticks.
func tickStep(total time.Duration) time.Duration {
	for _, s := range []time.Duration{
		time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
		10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
		100 * time.Millisecond, 200 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
		time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute,
	} {
		if total/s <= 12 {
			return s
		}
	}
	return 5 * time.Minute
}

func tickLabel(t, step time.Duration) string {
	if step >= time.Second || (t >= time.Second && t%(time.Second) == 0) {
		return strings.TrimSuffix(fmt.Sprintf("%g s", t.Seconds()), ".0")
	}
	if step >= 100*time.Millisecond && t >= time.Second {
		return fmt.Sprintf("%g s", t.Seconds())
	}
	return result.DurationText(t)
}
