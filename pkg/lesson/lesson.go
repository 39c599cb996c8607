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
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
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
	// Script and Latency are every call's script and emulated link.
	Script  story.Script
	Latency time.Duration
	// Network, if not nil, gives each call a fresh listener and the dial
	// that reaches it; nil means TCP on 127.0.0.1.
	Network func() (net.Listener, func(ctx context.Context, network, addr string) (net.Conn, error))
	// Measured, if not nil, is told of each call a chapter played, with the
	// chapter's number: the numbers the narration points at.
	Measured func(chapter int, r report.Call)

	// latest are the most recent calls of each mode, by key, for chapters
	// that point at the runs before them.
	latest map[string]report.Call
}

// Chapter is one step of the lesson.
type Chapter struct {
	Title string
	// explain is a few lines for someone who has never heard of duplex.
	explain string
	// demo runs the chapter's calls, printing them, and returns the
	// sentences that point at what they measured.
	demo func(ctx context.Context, l *Teacher, n int) (string, error)
	// heading heads those sentences; empty means "What just happened".
	heading string
}

// Play plays chapter n (1-based) of chapters: its title, its explanation,
// its demo, and what the demo showed.
func (l *Teacher) Play(ctx context.Context, chapters []Chapter, n int) error {
	c := chapters[n-1]
	width := l.Style.Width
	rule := strings.Repeat("=", width)
	if !l.Style.ASCII {
		rule = strings.Repeat("━", width)
	}
	fmt.Fprintf(l.Out, "\n%s\n%s\n\n%s\n\n", rule, l.bold(fmt.Sprintf("Chapter %d of %d: %s", n, len(chapters), c.Title)), wrap(c.explain, width))
	point, err := c.demo(ctx, l, n)
	if err != nil {
		return err
	}
	heading := c.heading
	if heading == "" {
		heading = "What just happened"
	}
	_, err = fmt.Fprintf(l.Out, "\n%s\n%s\n", l.bold(heading), wrap(point, width))
	return err
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
	cfg := l.config()
	var live *render.LiveLog
	if s.log {
		live = render.NewLiveLog(l.Out, l.Style)
		live.Limit(s.logLimit)
		live.Header("")
		cfg.Observer = live.Observe
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
	rep := report.Build(res)
	if l.latest == nil {
		l.latest = map[string]report.Call{}
	}
	l.latest[rep.Mode] = rep
	if l.Measured != nil {
		l.Measured(n, rep)
	}
	return rep
}

// config returns a fresh configuration for one call.
func (l *Teacher) config() call.Config {
	cfg := call.Config{Script: l.Script, Latency: l.Latency}
	if l.Network != nil {
		cfg.Listener, cfg.Dial = l.Network()
	}
	return cfg
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
