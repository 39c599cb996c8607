// Package lesson is the classroom walkthrough: chapters that each explain
// one idea in plain words, run a real call right there, and point at what
// just happened in the numbers that call measured.
package lesson

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/link"
	"github.com/duplexdemo/duplexdemo/pkg/modes"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/view/render"
	"github.com/duplexdemo/duplexdemo/pkg/view/report"
)

// Teacher plays chapters to a writer. Its zero value is not usable: set
// Out, Style and Script.
type Teacher struct {
	// Out receives everything the lesson prints.
	Out io.Writer
	// Style is how to draw.
	Style render.Style
	// Script and Latency are every call's script and emulated link, and
	// Bandwidth, Jitter and Seed the rest of the link (call.Config).
	Script    story.Script
	Latency   time.Duration
	Bandwidth link.Rate
	Jitter    time.Duration
	Seed      uint64
	// Photo is the size of the photo the chapter on bandwidth sends (0:
	// its own, 200KB). The other chapters send none, whatever Script
	// says: their narration is about the channel, not the link.
	Photo int
	// Network, if not nil, gives each call a fresh listener and the dial
	// that reaches it; nil means TCP on 127.0.0.1. Only real sockets carry
	// a mode that rides UDP datagrams: see carries.
	Network func() (net.Listener, func(ctx context.Context, network, addr string) (net.Conn, error))
	// Measured, if not nil, is told of each call a chapter played, with the
	// chapter's number: the numbers the narration points at.
	Measured func(chapter int, r report.Call)
	// Watch, if not nil, is asked for an observer of each call a chapter
	// starts, and is told of its events as they happen: a screen draws the
	// call growing from them. The observer must be quick (see
	// timeline.Observer); calls in one chapter may run at once.
	Watch func(m call.Mode) timeline.Observer

	// latest are the most recent calls of each mode, by key, for chapters
	// that point at the runs before them.
	latest map[string]report.Call
	// page is the chapter being played, filled in as its demo goes.
	page *Page
}

// Chapter is one step of the lesson.
type Chapter struct {
	Title string
	// explain is a few lines for someone who has never heard of duplex;
	// brief says the heart of it in two lines at most, for a screen with no
	// room for the rest.
	explain, brief string
	// question, if not nil, asks the class to predict a number the demo
	// will measure.
	question *question
	// moments are the labels of the lines whose moments the chapter is
	// about, for a screen to call out beside its picture.
	moments []string
	// demo runs the chapter's calls, printing them, and returns the
	// sentences that point at what they measured.
	demo func(ctx context.Context, l *Teacher, n int) (string, error)
	// heading heads those sentences; empty means "What just happened".
	heading string
}

// Page is one chapter as a screen lays it out: its words, and, once it has
// been played, what its demo measured. Play prints the same to Out as text.
type Page struct {
	// Number is the chapter's, from 1, of Of.
	Number, Of int
	Title      string
	// Explain is the chapter's explanation; Brief says its heart in two
	// lines at most, for a screen with no room for the rest.
	Explain, Brief string
	// Question asks the class to predict a number the demo measures, in
	// milliseconds; empty when the chapter asks nothing.
	Question string
	// Moments are the labels of the lines whose moments (wanted, waited,
	// heard) the chapter is about, for a screen to call out.
	Moments []string

	// What the demo played, once it has.
	//
	// Calls are the reports of its calls, in the order played.
	Calls []report.Call
	// Lanes and Total are its picture: the lanes of its calls on one time
	// axis; none when it drew no lanes.
	Lanes []render.Lane
	Total time.Duration
	// Table is the comparison it printed, if any, and Key the measures of it
	// that matter most, for a screen with no room for all.
	Table *report.Table
	Key   []string
	// TableFirst says the table is the chapter's picture, and its lanes
	// are for a screen with room for both.
	TableFirst bool
	// Notes are words it printed besides its calls.
	Notes string
	// Heading heads Point, the sentences that point at what it measured.
	Heading, Point string
	// Answer is the number Question asked for, as measured, and why it came
	// out so; nil when the chapter asks nothing.
	Answer *Answer
}

// Answer is the measured answer to a chapter's question.
type Answer struct {
	// MS is the number the question asked for, in milliseconds; nil if it
	// never happened.
	MS *float64
	// Why explains it from what the call measured: what it waited for, and
	// how long crossing the link took.
	Why string
}

// question is a number the class can guess before a demo measures it.
type question struct {
	// ask is the question, from the call's script.
	ask func(s story.Script) string
	// answer reads the number asked for, and why it came out so, from the
	// chapter's first call.
	answer func(r report.Call, latency time.Duration) Answer
}

// Page returns chapter n (1-based) of chapters as it stands before it is
// played: its words and its question.
func (l *Teacher) Page(chapters []Chapter, n int) Page {
	c := chapters[n-1]
	heading := c.heading
	if heading == "" {
		heading = "What just happened"
	}
	p := Page{Number: n, Of: len(chapters), Title: c.Title, Explain: l.text(strings.TrimSpace(c.explain)), Brief: l.text(c.brief), Heading: heading, Moments: c.moments}
	if c.question != nil {
		p.Question = c.question.ask(l.Script)
	}
	return p
}

// Play plays chapter n (1-based) of chapters: its title, its explanation,
// its demo, and what the demo showed, printed to Out; it returns the
// chapter's page, filled in with what the demo measured.
func (l *Teacher) Play(ctx context.Context, chapters []Chapter, n int) (Page, error) {
	c := chapters[n-1]
	page := l.Page(chapters, n)
	l.page = &page
	defer func() { l.page = nil }()
	width := l.Style.Width
	rule := strings.Repeat("=", width)
	if !l.Style.ASCII {
		rule = strings.Repeat("━", width)
	}
	fmt.Fprintf(l.Out, "\n%s\n%s\n\n%s\n\n", rule, l.bold(fmt.Sprintf("Chapter %d of %d: %s", n, len(chapters), c.Title)), wrap(page.Explain, width))
	if page.Question != "" {
		fmt.Fprintf(l.Out, "%s\n\n", wrap("A question for the class: "+page.Question, width))
	}
	point, err := c.demo(ctx, l, n)
	if err != nil {
		return page, err
	}
	page.Point = l.text(point)
	_, err = fmt.Fprintf(l.Out, "\n%s\n%s\n", l.bold(page.Heading), wrap(page.Point, width))
	if err == nil && c.question != nil && len(page.Calls) > 0 {
		a := c.question.answer(page.Calls[0], l.Latency)
		page.Answer = &a
		_, err = fmt.Fprintf(l.Out, "\n%s\n", wrap("The answer: "+ms(a.MS)+". "+a.Why, width))
	}
	return page, err
}

// text returns the lesson's words s as its style draws them: with
// --ascii, a formula's "×" is an "x".
func (l *Teacher) text(s string) string {
	if !l.Style.ASCII {
		return s
	}
	return strings.ReplaceAll(s, "×", "x")
}

func (l *Teacher) bold(s string) string {
	if !l.Style.Color {
		return s
	}
	return "\x1b[1m" + s + "\x1b[0m"
}

// show says which parts of a call to print: the live log (its first
// logLimit events, when that is set), the swimlanes, the summary.
type show struct {
	log, lanes, summary bool
	logLimit            int
}

// play runs one call in mode m and prints what s asks for; chapter n is
// told to Measured.
func (l *Teacher) play(ctx context.Context, n int, m call.Mode, s show) (report.Call, error) {
	cfg := l.config(m)
	var live *render.LiveLog
	if s.log {
		live = render.NewLiveLog(l.Out, l.Style)
		live.Limit(s.logLimit)
		live.Header("")
		cfg.Observer = both(live.Observe, cfg.Observer)
	} else {
		fmt.Fprintf(l.Out, "(a %s call is running)\n", m.Key)
	}
	res, err := call.Run(ctx, m, cfg)
	if live != nil {
		if lerr := live.Close(); err == nil {
			err = lerr
		}
	}
	if err != nil {
		return report.Call{}, err
	}
	rep := l.measured(n, res)
	if l.page != nil {
		l.page.Lanes, l.page.Total = render.Lanes(res.Timeline), res.Timeline.Duration
	}
	if s.lanes {
		fmt.Fprintln(l.Out)
		if err := render.Swimlanes(l.Out, render.Lanes(res.Timeline), res.Timeline.Duration, l.Style); err != nil {
			return rep, err
		}
	}
	if s.summary {
		fmt.Fprintln(l.Out)
		if err := render.Summary(l.Out, rep, l.Style); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// measured builds the report of a call chapter n played, keeps it as its
// mode's latest and tells Measured.
func (l *Teacher) measured(n int, res *result.Result) report.Call {
	rep := l.told(n, res)
	if l.latest == nil {
		l.latest = map[string]report.Call{}
	}
	l.latest[rep.Mode] = rep
	return rep
}

// told builds the report of a call chapter n played and tells Measured,
// without keeping it as its mode's latest: for a call on another script or
// link than the lesson's, whose numbers the chapters after it must not
// take for the lesson's own.
func (l *Teacher) told(n int, res *result.Result) report.Call {
	rep := report.Build(res)
	if l.page != nil {
		l.page.Calls = append(l.page.Calls, rep)
	}
	if l.Measured != nil {
		l.Measured(n, rep)
	}
	return rep
}

// config returns a fresh configuration for one call in mode m, watched if
// Watch is set.
func (l *Teacher) config(m call.Mode) call.Config {
	cfg := call.Config{Script: l.Script, Latency: l.Latency, Bandwidth: l.Bandwidth, Jitter: l.Jitter, Seed: l.Seed}
	if l.Network != nil {
		cfg.Listener, cfg.Dial = l.Network()
	}
	if l.Watch != nil {
		cfg.Observer = l.Watch(m)
	}
	return cfg
}

// carries says whether the lesson's calls can be played in mode m: a mode
// that rides UDP datagrams on sockets of its own (call.Mode.Datagrams) plays
// only when the calls go over real sockets, with Network nil. Another
// network (an in-memory one, on a test's fake clock) carries no datagrams,
// so a chapter leaves such a mode out there and says so.
func (l *Teacher) carries(m call.Mode) bool { return !m.Datagrams || l.Network == nil }

// playable splits ms into the modes the lesson's calls can be played in
// and those they cannot (see carries), each in the order of ms.
func (l *Teacher) playable(ms []call.Mode) (play, left []call.Mode) {
	for _, m := range ms {
		if l.carries(m) {
			play = append(play, m)
		} else {
			left = append(left, m)
		}
	}
	return play, left
}

// playAll plays the calls in modes ms at once, each on its own connection,
// and prints their comparison with only the given measures; key are the
// rows of it that matter most, for a screen with no room for all. It
// returns the calls' reports and the whole comparison, every measure in it,
// for the sentences that point at them. The table is the chapter's
// picture; the calls' lanes, on one time axis, are for a screen with room
// for both.
func (l *Teacher) playAll(ctx context.Context, n int, ms []call.Mode, measures, key []string) ([]report.Call, report.Table, error) {
	reports, results, err := l.runAll(ctx, n, l.config, l.measured, ms)
	if err != nil {
		return nil, report.Table{}, err
	}
	names := make([]string, len(results))
	tls := make([]*timeline.Timeline, len(results))
	for i, r := range results {
		names[i], tls[i] = r.Mode.Key, r.Timeline
	}
	whole := report.Compare(reports...)
	if l.page != nil {
		l.page.Lanes, l.page.Total = render.CallLanes(names, tls)
	}
	return reports, whole, l.showTable(whole.Only(measures...), key)
}

// runAll plays the calls in modes ms at once, each on its own connection
// with a configuration of its own from config, and returns their results
// and their reports, built by build (measured, or told for calls not on
// the lesson's own script and link), in the order of ms.
func (l *Teacher) runAll(ctx context.Context, n int, config func(call.Mode) call.Config, build func(int, *result.Result) report.Call, ms []call.Mode) ([]report.Call, []*result.Result, error) {
	fmt.Fprintf(l.Out, "(%d calls are running, side by side)\n", len(ms))
	results, err := modes.RunAll(ctx, config, ms)
	if err != nil {
		return nil, nil, err
	}
	reports := make([]report.Call, len(results))
	for i, r := range results {
		reports[i] = build(n, r)
	}
	return reports, results, nil
}

// showTable prints t, the chapter's picture, and keeps it on the page with
// key, its rows that matter most, for a screen with no room for all.
func (l *Teacher) showTable(t report.Table, key []string) error {
	if l.page != nil {
		l.page.Table, l.page.Key, l.page.TableFirst = &t, key, true
	}
	fmt.Fprintln(l.Out)
	return render.Compare(l.Out, t, l.Style)
}

// both returns an observer that tells a and then b, either of which may be
// nil.
func both(a, b timeline.Observer) timeline.Observer {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	return func(e timeline.Event) { a(e); b(e) }
}

// nbsp joins a number to its unit, so that wrap never parts them.
const nbsp = "\u00a0"

// Wrap breaks text into lines of at most width columns, as the lesson's
// own words are: paragraphs apart, bullets indented.
func Wrap(text string, width int) string { return wrap(text, width) }

// wrap breaks text into lines of at most width columns; blank lines in
// text separate paragraphs, and a paragraph that starts with "- " is a
// bullet whose later lines are indented under its text.
func wrap(text string, width int) string {
	var out []string
	for _, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		indent := ""
		if strings.HasPrefix(para, "- ") {
			indent = "  "
		}
		line := ""
		for _, word := range strings.Split(strings.Join(strings.Fields(strings.ReplaceAll(para, nbsp, "\x00")), " "), " ") {
			word = strings.ReplaceAll(word, "\x00", " ")
			if line != "" && len([]rune(line))+1+len([]rune(word)) > width {
				out = append(out, line)
				line = indent
			}
			if line != "" && line != indent {
				line += " "
			}
			line += word
		}
		out = append(out, line, "")
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n")
}

// ms formats a measured time in whole milliseconds, or says it never
// happened.
func ms(v *float64) string {
	if v == nil {
		return "never"
	}
	return strings.Replace(result.MSText(*v), " ", nbsp, 1)
}
