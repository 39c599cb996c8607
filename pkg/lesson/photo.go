package lesson

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/h2"
	"github.com/duplexdemo/duplexdemo/pkg/link"
	"github.com/duplexdemo/duplexdemo/pkg/modes"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/view/render"
	"github.com/duplexdemo/duplexdemo/pkg/view/report"
	"github.com/duplexdemo/duplexdemo/pkg/webtransport"
)

// The chapter "Full duplex is not the end of waiting" plays the lesson's
// call with a photo sent just before the interruption, on a link of
// limited bandwidth.
const (
	// photoSize is its photo when the teacher gives none (--photo):
	// 200 KB, which take 1.6 s to cross photoRate.
	photoSize = 200_000
	// photoRate is its link's bandwidth when the teacher gives none
	// (--bandwidth): 1 Mbit each way, a slow home line's.
	photoRate = link.Mbit
	// photoShare is the most of the time from the interruption to the
	// goodbye that a photo shrunk to fit may take to cross: the lines
	// queued behind it need the rest to cross before the goodbye.
	photoShare = 0.75
	// minPhoto is the smallest photo it shrinks one to: a few sentences'
	// worth, below which there is no big message left to wait behind.
	minPhoto = 1000
)

// photoKey are the rows of the chapter's table that matter most, for a
// screen with no room for all.
var photoKey = []string{"interruption_heard_after_ms", "interruption_behind_photo_ms", "sentences_meanwhile"}

// photoModes are the modes the chapter plays, those of them that carry
// the photo (call.Mode.Photo): three ways of full duplex, each one step
// further from a single ordered byte stream. The phone is one stream on one
// TCP connection (raw TCP and HTTP/1.1 in full duplex are the same, and
// queue the same); HTTP/2 has streams, on one TCP connection; WebTransport
// has streams on QUIC, independent at the transport. The walkie-talkie is
// left out: its interruption waits for the story's end whatever the link.
func photoModes() []call.Mode {
	var out []call.Mode
	for _, m := range []call.Mode{fullduplex.Mode(), h2.Mode(), webtransport.Mode()} {
		if m.Photo {
			out = append(out, m)
		}
	}
	return out
}

// photoLink is the chapter's script and link: the lesson's script with a
// photo, the teacher's or photoSize, and the lesson's link with the
// teacher's bandwidth or photoRate.
type photoLink struct {
	script story.Script
	rate   link.Rate
	// shrunk, if not empty, says why the photo is smaller than asked.
	shrunk string
	// refused, if not empty, says why the chapter cannot play.
	refused string
}

// photoFor returns the chapter's script and link for the calls in modes
// ms. A photo that cannot cross before the goodbye is due (call.CheckPhoto)
// is shrunk to one that crosses in photoShare of that time; when even
// minPhoto cannot, the chapter is refused, and says why.
func (l *Teacher) photoFor(ms []call.Mode) (photoLink, error) {
	p := photoLink{script: l.Script, rate: l.Bandwidth}
	if p.rate == 0 {
		p.rate = photoRate
	}
	size := l.Photo
	if size == 0 {
		size = photoSize
	}
	var err error
	if p.script, err = withPhoto(l.Script, size); err != nil {
		return p, err
	}
	check := func() error {
		for _, m := range ms {
			if err := call.CheckPhoto(m, call.Config{Script: p.script, Bandwidth: p.rate}); err != nil {
				return err
			}
		}
		return nil
	}
	if check() == nil {
		return p, nil
	}
	before := l.Script.GoodbyeAt - l.Script.InterruptAt
	fits := twoDigits(int(photoShare * before.Seconds() * float64(p.rate) / 8))
	if fits < minPhoto {
		p.refused = fmt.Sprintf("at %v even a %s photo takes %s to cross, and the goodbye is due %s after the interruption; play it with a faster --bandwidth or a later --goodbye-at.",
			p.rate, story.PhotoSize(minPhoto), durText(p.rate.TimeFor(minPhoto)), durText(before))
		return p, nil
	}
	p.shrunk = fmt.Sprintf("A %s photo takes %s to cross at %v, and the goodbye is due %s after the interruption: this chapter sends a %s one.",
		story.PhotoSize(size), durText(p.rate.TimeFor(int64(size))), p.rate, durText(before), story.PhotoSize(fits))
	if p.script, err = withPhoto(l.Script, fits); err != nil {
		return p, err
	}
	if err := check(); err != nil {
		p.refused = err.Error() + "."
	}
	return p, nil
}

// withPhoto returns s with the script's photo of size bytes: the one
// story.New makes for that size, which depends on nothing else.
func withPhoto(s story.Script, size int) (story.Script, error) {
	p, err := story.New(story.Options{Photo: size})
	if err != nil {
		return s, err
	}
	s.Photo = p.Photo
	return s, nil
}

// twoDigits rounds n down to two significant digits: 48000, 93000.
func twoDigits(n int) int {
	unit := 1
	for n/unit >= 100 {
		unit *= 10
	}
	return n / unit * unit
}

// photoDemo is the demo of the chapter "Full duplex is not the end of
// waiting": the modes that carry the photo, at once, each on its own link
// of the chapter's bandwidth; those the lesson's network cannot carry are
// left out, and the conclusion says so. Its calls are not the lesson's
// latest: their script and link are the chapter's own.
func photoDemo(ctx context.Context, l *Teacher, n int) (string, error) {
	play, left := l.playable(photoModes())
	if len(play) == 0 {
		return "This chapter cannot play: no mode this lesson's network carries takes a photo yet.", nil
	}
	p, err := l.photoFor(play)
	if err != nil {
		return "", err
	}
	if p.refused != "" {
		return "This chapter cannot play: " + p.refused, nil
	}
	fmt.Fprintf(l.Out, "%s\n\n", wrap(fmt.Sprintf("A %s photo, on a link of %v each way, latency %s.", story.PhotoSize(len(p.script.Photo)), p.rate, durText(l.Latency)), l.Style.Width))
	if p.shrunk != "" {
		l.page.Notes = p.shrunk
		fmt.Fprintf(l.Out, "%s\n\n", wrap(p.shrunk, l.Style.Width))
	}
	config := func(m call.Mode) call.Config {
		cfg := l.config(m)
		cfg.Script, cfg.Bandwidth = p.script, p.rate
		return cfg
	}
	calls, results, err := l.runAll(ctx, n, config, l.told, play)
	if err != nil {
		return "", err
	}
	t := photoTable(calls)
	if err := l.showTable(t, photoKey); err != nil {
		return "", err
	}
	// The picture of one call, the phone's if it played: its two sides and
	// its link's two directions.
	i := pictured(calls)
	lanes := append(render.Lanes(results[i].Timeline), render.LinkLanes(calls[i])...)
	for j := range lanes { // named as compare names them: the screen shows no caption
		lanes[j].Name = results[i].Mode.Key + " " + lanes[j].Name
	}
	l.page.Lanes, l.page.Total = lanes, results[i].Timeline.Duration
	fmt.Fprintf(l.Out, "\n%s, and its link's two directions:\n", capital(results[i].Mode.Name))
	if err := render.Swimlanes(l.Out, lanes, results[i].Timeline.Duration, l.Style); err != nil {
		return "", err
	}
	return photoPoint(t, p, left), nil
}

// photoTable sets the chapter's calls side by side: how long after it was
// wanted the interruption was heard, how long it queued behind the photo on
// the link, how long the link up was busy (report.Compare's rows), and how
// many of grandma's sentences the grandchild heard while the photo went up.
func photoTable(calls []report.Call) report.Table {
	t := report.Compare(calls...).Only("interruption_heard_after_ms", "interruption_behind_photo_ms", "link_busy_client_to_server_ms")
	m := report.Measure{Name: "sentences_meanwhile", Title: "sentences during photo", Values: map[string]any{}}
	for _, c := range calls {
		m.Values[c.Mode] = storyHeardMeanwhile(c)
	}
	t.Measures = append(t.Measures, m)
	return t
}

// storyHeardMeanwhile counts the sentences of grandma's story the
// grandchild heard while her photo went up: after it was sent, before
// grandma had heard it all (the call's end if she never did); nil if it
// was never sent.
func storyHeardMeanwhile(c report.Call) any {
	ph := c.Summary.Photo
	if ph == nil || ph.SentAtMS == nil {
		return nil
	}
	end := c.DurationMS
	if ph.HeardAtMS != nil {
		end = *ph.HeardAtMS
	}
	n := 0
	for _, e := range c.Events {
		if e.Kind == "heard" && e.Label == story.LabelStory && e.TMS >= *ph.SentAtMS && e.TMS <= end {
			n++
		}
	}
	return n
}

// photoPoint says what the chapter's table t measured, from its own
// numbers: how long the photo held the link up, what the interruption
// behind it waited on the phone while grandma's story kept coming, and
// whether on a stream of its own it overtook the photo, and if so what it
// still waited for. left are the modes it could not play.
func photoPoint(t report.Table, p photoLink, left []call.Mode) string {
	var says []string
	say := func(format string, a ...any) { says = append(says, fmt.Sprintf(format, a...)) }
	size := len(p.script.Photo)
	if i := pictured(t.Calls); i >= 0 {
		m := modeOf(t.Calls[i])
		formula := strings.ReplaceAll(fmt.Sprintf("%d B × 8 / %v = %s", size, p.rate, result.DurationText(p.rate.TimeFor(int64(size)))), " ", nbsp)
		say("At %v a %s photo takes %s to cross; the link up was busy %s on %s.",
			p.rate, story.PhotoSize(size), formula, cell(t, "link_busy_client_to_server_ms", m), m.Name)
	}
	for _, c := range t.Calls {
		m := modeOf(c)
		queued, heard := behind(c), cell(t, "interruption_heard_after_ms", m)
		if m.Key == fullduplex.Mode().Key {
			text := fmt.Sprintf("On the phone the interruption queued %s behind it", cell(t, "interruption_behind_photo_ms", m))
			if queued >= 1 {
				text += ", in the same direction"
				if n, _ := storyHeardMeanwhile(c).(int); n > 0 {
					text += fmt.Sprintf(", while %d of grandma's sentences came down the other way: full duplex frees the other direction, not your own", n)
				}
			}
			say("%s.", text)
			continue
		}
		text := "On " + m.Name + " the interruption"
		if fact(c.Summary, "streams") > 1 {
			text += ", on a stream of its own,"
		}
		if !overtook(c) {
			text += fmt.Sprintf(" was heard only after the whole photo, %s after it was wanted: it queued %s behind it", heard, cell(t, "interruption_behind_photo_ms", m))
			if fact(c.Summary, "streams") > 1 && !m.Datagrams && size <= call.StreamWindow {
				text += fmt.Sprintf(", for the whole photo fits in one window of flow control (%s), let onto the one TCP connection ahead of it", byteCount(call.StreamWindow))
			}
			say("%s.", text)
			continue
		}
		text += fmt.Sprintf(" overtook the photo, heard %s after it was wanted", heard)
		// It still queued behind the photo, and why, when it queued as long
		// as a crossing of the link at least: less is its own bytes' time
		// on the link, or the machine's.
		switch {
		case queued < max(1, c.LatencyMS):
		case m.Datagrams:
			text += fmt.Sprintf(", yet queued %s: QUIC's streams are independent, but share the link, and the photo's packets already on it went first", cell(t, "interruption_behind_photo_ms", m))
		default:
			text += fmt.Sprintf(", yet queued %s: the streams share one TCP connection, which delivers bytes in order, and flow control lets up to a window of the photo (%s, %s) onto it ahead",
				cell(t, "interruption_behind_photo_ms", m), byteCount(call.StreamWindow), durText(p.rate.TimeFor(call.StreamWindow)))
		}
		say("%s.", text)
	}
	for _, m := range left {
		say("Left out here: %s, which rides UDP datagrams; this lesson's network carries none.", m.Name)
	}
	return strings.Join(says, " ")
}

// pictured is the index of the call among calls whose lanes the chapter
// draws: the phone's, else the first; -1 if there is none.
func pictured(calls []report.Call) int {
	for i, c := range calls {
		if c.Mode == fullduplex.Mode().Key {
			return i
		}
	}
	return min(len(calls), 1) - 1
}

// modeOf returns the mode of call c, from the registry.
func modeOf(c report.Call) call.Mode {
	m, _ := modes.Lookup(c.Mode)
	if m.Key == "" {
		m.Key, m.Name = c.Mode, c.Mode
	}
	return m
}

// behind is how long c's interruption queued behind the photo, in ms.
func behind(c report.Call) float64 {
	if c.Summary.Photo == nil || c.Summary.Photo.InterruptionBehindPhotoMS == nil {
		return 0
	}
	return *c.Summary.Photo.InterruptionBehindPhotoMS
}

// overtook says whether grandma heard c's interruption before she had
// heard the whole photo sent before it.
func overtook(c report.Call) bool {
	ph, i := c.Summary.Photo, c.Summary.Interruption
	if ph == nil || i.HeardAtMS == nil {
		return false
	}
	return ph.HeardAtMS == nil || *i.HeardAtMS < *ph.HeardAtMS
}

// durText formats a duration as the lesson's numbers are, its unit joined
// to it: "1600 ms".
func durText(d time.Duration) string {
	return strings.Replace(result.DurationText(d), " ", nbsp, 1)
}

// capital returns s with its first letter upper case, to begin a sentence.
func capital(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}
