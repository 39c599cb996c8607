package screen

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/duplexdemo/duplexdemo/internal/pipenet"
	"github.com/duplexdemo/duplexdemo/pkg/lesson"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/view/render"
	"github.com/duplexdemo/duplexdemo/pkg/webtransport"
)

var update = flag.Bool("update", false, "rewrite the golden screens")

func inMemory() (net.Listener, func(ctx context.Context, network, addr string) (net.Conn, error)) {
	l := pipenet.Listen()
	return l, l.DialContext
}

// driver plays the part of bubbletea's program for a test: it runs the
// model's commands on goroutines of their own, feeds their messages back
// to Update one at a time, and lets the test look at the screen between
// them. Inside a synctest bubble, time moves only while every goroutine
// waits, so each screen is the same on every run.
type driver struct {
	t       *testing.T
	m       *model
	msgs    chan tea.Msg
	pending int
	quit    bool
}

func newDriver(t *testing.T, o Options, w, h int) *driver {
	d := &driver{t: t, m: newModel(t.Context(), o), msgs: make(chan tea.Msg, 64)}
	d.send(tea.WindowSizeMsg{Width: w, Height: h})
	d.run(d.m.Init())
	return d
}

// run starts cmd, as the program would.
func (d *driver) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	d.pending++
	go func() { d.msgs <- cmd() }()
}

// step takes the next message and gives it to the model.
func (d *driver) step() {
	msg := <-d.msgs
	d.pending--
	switch msg := msg.(type) {
	case tea.BatchMsg:
		for _, c := range msg {
			d.run(c)
		}
	case tea.QuitMsg:
		d.quit = true
	default:
		d.send(msg)
	}
}

func (d *driver) send(msg tea.Msg) {
	_, cmd := d.m.Update(msg)
	d.run(cmd)
}

// key presses a key.
func (d *driver) key(k string) {
	var msg tea.KeyMsg
	switch k {
	case "right":
		msg = tea.KeyMsg{Type: tea.KeyRight}
	case "left":
		msg = tea.KeyMsg{Type: tea.KeyLeft}
	case "enter":
		msg = tea.KeyMsg{Type: tea.KeyEnter}
	case "backspace":
		msg = tea.KeyMsg{Type: tea.KeyBackspace}
	case "ctrl+c":
		msg = tea.KeyMsg{Type: tea.KeyCtrlC}
	case " ":
		msg = tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	default:
		msg = tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
	}
	d.send(msg)
}

// settle runs until nothing is left to do: the demo over, no tick due.
func (d *driver) settle() {
	for d.pending > 0 {
		d.step()
	}
}

// until runs until cond holds, or fails when nothing is left to do first.
func (d *driver) until(what string, cond func() bool) {
	d.t.Helper()
	for !cond() {
		if d.pending == 0 {
			d.t.Fatalf("never %s; the screen:\n%s", what, d.m.View())
		}
		d.step()
	}
}

// finish quits, as q does, and waits for the demo under way to stop.
func (d *driver) finish() {
	d.key("q")
	d.settle()
	d.m.wait()
}

// lastChapter is the lesson's last chapter's number: how many there are.
var lastChapter = len(lesson.Chapters())

// chapterTitle is how the screen's title bar begins for chapter n.
func chapterTitle(n int) string { return fmt.Sprintf("Chapter %d of %d", n, lastChapter) }

func teacher(style render.Style) *lesson.Teacher {
	return &lesson.Teacher{Style: style, Script: story.Default(), Latency: 40 * time.Millisecond, Network: inMemory}
}

func options(style render.Style) Options {
	return Options{Teacher: teacher(style), Chapters: lesson.Chapters(), Start: 1}
}

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs; got:\n%s\nwant:\n%s", name, got, want)
	}
}

// checkFits fails unless the screen is at most w columns by h rows.
func checkFits(t *testing.T, what, screen string, w, h int) {
	t.Helper()
	rows := strings.Split(screen, "\n")
	if len(rows) > h {
		t.Errorf("%s: %d rows on a screen of %d:\n%s", what, len(rows), h, screen)
	}
	for _, r := range rows {
		if n := ansi.StringWidth(r); n > w {
			t.Errorf("%s: a row of %d columns on a screen of %d: %q", what, n, w, r)
		}
	}
}

// picture says whether a screen shows a demo's picture: swimlanes, a
// comparison table, or the list of where it matters.
func picture(screen string) bool {
	return strings.Contains(screen, "1 column = ") || strings.Contains(screen, "Compare: ") || strings.Contains(screen, "Collaborative editing")
}

// TestEveryChapterOnOneScreen walks the lesson at 80x24 and at 120x40 and
// checks, after each chapter's demo, that its title, its picture and its
// conclusion are on the screen together, and nothing overflows; the 80x24
// screens are golden, on the fake clock.
func TestEveryChapterOnOneScreen(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		w, h := size[0], size[1]
		t.Run(fmt.Sprintf("%dx%d", w, h), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d := newDriver(t, options(render.Style{Width: w}), w, h)
				var all strings.Builder
				for n := 1; n <= lastChapter; n++ {
					d.until("finished the demo", func() bool { return d.m.state == done })
					screen := d.m.View()
					checkFits(t, fmt.Sprintf("chapter %d", n), screen, w, h)
					for _, want := range []string{chapterTitle(n), d.m.page.Heading} {
						if !strings.Contains(screen, want) {
							t.Errorf("chapter %d at %dx%d: %q is not on the screen:\n%s", n, w, h, want, screen)
						}
					}
					if !picture(screen) {
						t.Errorf("chapter %d at %dx%d: no picture on the screen:\n%s", n, w, h, screen)
					}
					fmt.Fprintf(&all, "--- chapter %d\n%s\n", n, screen)
					d.key("right")
				}
				d.settle()
				if !d.quit || !d.m.finished {
					t.Errorf("Right on the last chapter: quit %v, finished %v; want the lesson over", d.quit, d.m.finished)
				}
				d.m.wait()
				if w == 80 {
					checkGolden(t, "chapters-80x24.golden", all.String())
				}
			})
		})
	}
}

// TestWebTransportChaptersOnRealSockets: the chapters "Is HTTP half
// duplex?" and "Full duplex is not the end of waiting" play WebTransport,
// which rides UDP datagrams, only on real sockets (the other tests' fake
// clock and in-memory network cannot carry it). There, with one call more,
// each still fits 80x24 with its table and its whole conclusion.
func TestWebTransportChaptersOnRealSockets(t *testing.T) {
	for _, title := range []string{"Is HTTP half duplex?", "Full duplex is not the end of waiting"} {
		t.Run(title, func(t *testing.T) {
			n := chapterNumber(t, title)
			o := options(render.Style{Width: 80})
			o.Teacher.Network, o.Start = nil, n
			d := newDriver(t, o, 80, 24)
			defer d.finish()
			d.until("finished the demo", func() bool { return d.m.state == done || d.m.state == failed })
			screen := d.m.View()
			if d.m.state == failed {
				t.Fatalf("the demo failed:\n%s", screen)
			}
			checkFits(t, "the chapter on real sockets", screen, 80, 24)
			datagrams := false
			for _, c := range d.m.page.Calls {
				datagrams = datagrams || c.Transport == webtransport.Mode().Transport
			}
			if !datagrams {
				t.Errorf("on real sockets the chapter did not play WebTransport")
			}
			for _, want := range []string{chapterTitle(n), "Compare: the same call", d.m.page.Heading, flat(d.m.page.Point)} {
				if !strings.Contains(flat(screen), want) {
					t.Errorf("%q is not on the screen:\n%s", want, screen)
				}
			}
		})
	}
}

// TestPhotoLanesOnABigScreen: the chapter "Full duplex is not the end of
// waiting" shows its table at 80x24, and on a screen with room for both,
// the phone's lanes too, with its link's two directions.
func TestPhotoLanesOnABigScreen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := options(render.Style{Width: 120})
		o.Start = chapterNumber(t, "Full duplex is not the end of waiting")
		d := newDriver(t, o, 120, 40)
		d.until("finished the demo", func() bool { return d.m.state == done })
		screen := d.m.View()
		checkFits(t, "the chapter at 120x40", screen, 120, 40)
		for _, want := range []string{"Compare: the same call", "link up", "link down", "1 column = ", flat(d.m.page.Point)} {
			if !strings.Contains(flat(screen), want) {
				t.Errorf("%q is not on the screen at 120x40:\n%s", want, screen)
			}
		}
		d.finish()
	})
}

// chapterNumber returns the number of the lesson's chapter titled title,
// from 1.
func chapterNumber(t *testing.T, title string) int {
	t.Helper()
	for i, c := range lesson.Chapters() {
		if c.Title == title {
			return i + 1
		}
	}
	t.Fatalf("no chapter %q", title)
	return 0
}

// flat undoes wrapping and non-breaking spaces, for a test to look for a
// sentence on the screen.
func flat(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\u00a0", " ")), " ")
}

// TestLanesGrowWhileTheCallRuns: mid-call, the screen shows the lanes so
// far and the interruption waiting, with how long so far; then more.
func TestLanesGrowWhileTheCallRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := options(render.Style{Width: 80})
		o.Start = 2
		d := newDriver(t, o, 80, 24)
		start := time.Now()
		d.until("reached 1.2 s", func() bool { return time.Since(start) >= 1200*time.Millisecond })
		early := d.m.View()
		checkFits(t, "mid-call", early, 80, 24)
		if !strings.Contains(early, "WAITS (channel busy)") || !strings.Contains(early, "so far") {
			t.Errorf("mid-call, the interruption's wait is not called out:\n%s", early)
		}
		checkGolden(t, "chapter2-at-1200ms.golden", early)
		d.until("reached 2 s", func() bool { return time.Since(start) >= 2*time.Second })
		later := d.m.View()
		if strings.Count(later, "░")+strings.Count(later, "█") <= strings.Count(early, "░")+strings.Count(early, "█") {
			t.Errorf("the lanes did not grow from 1.2 s to 2 s:\n%s\n%s", early, later)
		}
		d.finish()
	})
}

// TestTypeaheadNeverSkipsAPause: keys pressed while a demo runs are
// dropped with a word on screen; once the demo is over the chapter waits
// for a key pressed then.
func TestTypeaheadNeverSkipsAPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDriver(t, options(render.Style{Width: 80}), 80, 24)
		for _, k := range []string{"enter", "right", " ", "r", "b", "enter"} {
			d.key(k)
		}
		if !strings.Contains(d.m.View(), "keys are dropped until it is over") {
			t.Errorf("no word about the keys dropped:\n%s", d.m.View())
		}
		d.settle() // the demo ends; nothing else happens
		if d.m.n != 1 || d.m.state != done || d.quit {
			t.Fatalf("after typeahead: chapter %d, state %d, quit %v; want chapter 1 done, waiting", d.m.n, d.m.state, d.quit)
		}
		if d.m.gen != 1 {
			t.Errorf("the demo ran %d times; want once", d.m.gen)
		}
		if v := d.m.View(); strings.Contains(v, "A call is running") || !strings.Contains(v, "r: run again") {
			t.Errorf("the call is over, but the last row does not say so:\n%s", v)
		}
		d.key("right")
		if d.m.n != 2 {
			t.Errorf("Right after the demo: chapter %d, want 2", d.m.n)
		}
		d.finish()
	})
}

// TestKeys drives the keys: back, run again, the keys' help, the full
// log, an unknown key, and quitting with Ctrl-C.
func TestKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDriver(t, options(render.Style{Width: 80}), 80, 24)
		d.settle()
		d.key("b")
		if !strings.Contains(d.m.View(), "This is the first chapter.") {
			t.Errorf("b on chapter 1 said nothing:\n%s", d.m.View())
		}
		d.key(" ")
		d.settle()
		d.key("left")
		if d.m.n != 1 || d.m.state != running {
			t.Errorf("Left on chapter 2: chapter %d state %d, want chapter 1 running again", d.m.n, d.m.state)
		}
		d.settle()
		gen := d.m.gen
		d.key("r")
		if d.m.gen != gen+1 || d.m.n != 1 {
			t.Errorf("r: ran %d demos, chapter %d; want one more, on chapter 1", d.m.gen-gen, d.m.n)
		}
		d.settle()
		d.key("?")
		keys := d.m.View()
		checkFits(t, "keys", keys, 80, 24)
		checkGolden(t, "keys.golden", keys)
		d.key("x") // any key goes back
		d.key("l")
		log := d.m.View()
		if !strings.Contains(log, "the full log") || !strings.Contains(log, "GRANDCHILD (client)") {
			t.Errorf("l does not show the chapter's full log:\n%s", log)
		}
		d.key("G")
		if !strings.Contains(d.m.View(), "What just happened") {
			t.Errorf("the end of the full log is not its conclusion:\n%s", d.m.View())
		}
		d.key("esc")
		d.key("x")
		if !strings.Contains(d.m.View(), "Keys: ") {
			t.Errorf("an unknown key said nothing:\n%s", d.m.View())
		}
		d.key("ctrl+c")
		d.settle()
		if !d.quit || d.m.quitErr != ErrInterrupted {
			t.Errorf("Ctrl-C: quit %v, error %v; want quit with ErrInterrupted", d.quit, d.m.quitErr)
		}
		d.settle()
	})
}

// TestPredictThenMeasure: with Predict, chapter 2 asks for the class's
// guess and runs nothing until Enter; after the demo the guess stands
// beside the measured answer and its explanation.
func TestPredictThenMeasure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := options(render.Style{Width: 80})
		o.Start, o.Predict = 2, true
		d := newDriver(t, o, 80, 24)
		if d.m.state != asking || d.pending != 0 {
			t.Fatalf("chapter 2 with Predict: state %d, %d commands; want asking, nothing running", d.m.state, d.pending)
		}
		for _, k := range []string{"5", "0", "0", "9", "backspace", "x"} {
			d.key(k)
		}
		asked := d.m.View()
		checkFits(t, "asking", asked, 80, 24)
		checkGolden(t, "predict-asking.golden", asked)
		d.key("enter")
		d.settle()
		answered := d.m.View()
		checkFits(t, "answered", answered, 80, 24)
		a := d.m.page.Answer
		if a == nil || a.MS == nil {
			t.Fatalf("no measured answer: %+v", d.m.page)
		}
		for _, want := range []string{"the class guessed 500 ms", fmt.Sprintf("Answer: %.0f ms", *a.MS), "one latency (40 ms)", "sentences to send"} {
			if !strings.Contains(strings.Join(strings.Fields(answered), " "), want) {
				t.Errorf("the answer does not say %q:\n%s", want, answered)
			}
		}
		checkGolden(t, "predict-answered.golden", answered)
		d.finish()
	})
}

// TestResizeAndTooSmall: the screen follows the terminal's size; below
// 80x24 it says what size it needs, and q still quits.
func TestResizeAndTooSmall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDriver(t, options(render.Style{Width: 80}), 80, 24)
		d.settle()
		d.send(tea.WindowSizeMsg{Width: 120, Height: 40})
		wide := d.m.View()
		checkFits(t, "120x40", wide, 120, 40)
		if !strings.Contains(wide, "HTTP/1.1 on one connection works much the same way") {
			t.Errorf("at 120x40 the whole explanation should show:\n%s", wide)
		}
		d.send(tea.WindowSizeMsg{Width: 60, Height: 20})
		d.key("right") // unseen, it must not move the lesson
		if d.m.n != 1 {
			t.Errorf("Right on a screen too small moved to chapter %d", d.m.n)
		}
		small := d.m.View()
		checkFits(t, "60x20", small, 60, 20)
		if !strings.Contains(strings.Join(strings.Fields(small), " "), "needs a terminal of at least 80 columns and 24 rows; this one is 60 by 20") {
			t.Errorf("at 60x20 it does not say what it needs:\n%s", small)
		}
		d.key("q")
		d.settle()
		if !d.quit {
			t.Error("q did not quit on a small terminal")
		}
	})
}

// TestASCIIAndWidth: with ASCII and a width of 60 (within an 80x24
// terminal), every chapter's screen is ASCII and at most 60 columns.
func TestASCIIAndWidth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := options(render.Style{Width: 60, ASCII: true})
		o.Width = 60
		d := newDriver(t, o, 80, 24)
		for n := 1; n <= lastChapter; n++ {
			d.until("finished the demo", func() bool { return d.m.state == done })
			screen := d.m.View()
			checkFits(t, fmt.Sprintf("chapter %d", n), screen, 60, 24)
			for _, r := range screen {
				if r > 127 {
					t.Errorf("chapter %d: %q is not ASCII:\n%s", n, r, screen)
					break
				}
			}
			if !strings.Contains(screen, chapterTitle(n)) || !strings.Contains(screen, d.m.page.Heading) {
				t.Errorf("chapter %d at 60 columns lost its title or conclusion:\n%s", n, screen)
			}
			d.key("right")
		}
		d.settle()
		d.m.wait()
	})
}

// TestLayoutStaysWhenTheNumbersArrive: the words at the top of a chapter
// are the same while its call runs and once its numbers are in, so that
// nothing the class is reading moves.
func TestLayoutStaysWhenTheNumbersArrive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDriver(t, options(render.Style{Width: 80}), 80, 24)
		for n := 1; n < lastChapter; n++ { // the last chapter runs no call of its own
			start := time.Now()
			d.until("reached 1 s", func() bool { return time.Since(start) >= time.Second })
			running := topRows(d.m.View())
			d.until("finished the demo", func() bool { return d.m.state == done })
			if got := topRows(d.m.View()); got != running {
				t.Errorf("chapter %d: the words at the top changed when the numbers came:\n%s\nthen\n%s", n, running, got)
			}
			d.key("right")
		}
		d.finish()
	})
}

// topRows returns a screen's title and the words under it: its rows down
// to the first that is blank or indented (a picture's).
func topRows(screen string) string {
	rows := strings.Split(screen, "\n")
	for i, r := range rows[1:] {
		if strings.TrimSpace(r) == "" || strings.HasPrefix(r, " ") {
			return strings.Join(rows[:i+1], "\n")
		}
	}
	return screen
}

// TestFullLogWhileTheCallRuns: l opens the chapter's full log while its
// call runs, following its end as lines come; Esc goes back.
func TestFullLogWhileTheCallRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := options(render.Style{Width: 80})
		o.Start = 2
		d := newDriver(t, o, 80, 24)
		start := time.Now()
		d.until("reached 0.5 s", func() bool { return time.Since(start) >= 500*time.Millisecond })
		d.key("l")
		early := d.m.View()
		checkFits(t, "live log", early, 80, 24)
		if !strings.Contains(early, "as it happens") || !strings.Contains(early, "says") {
			t.Errorf("l mid-call does not show the log as it happens:\n%s", early)
		}
		d.until("reached 1.5 s", func() bool { return time.Since(start) >= 1500*time.Millisecond })
		if later := d.m.View(); later == early || !strings.Contains(later, "wait over after") {
			t.Errorf("the live log did not follow the call to the interruption's end:\n%s", later)
		}
		d.key("esc")
		if d.m.overlay != none {
			t.Error("Esc did not close the log")
		}
		d.finish()
	})
}

// TestCalloutsAddUp: a callout's "after" is the difference of the two times
// it shows, whatever their fractions of a millisecond.
func TestCalloutsAddUp(t *testing.T) {
	msg := timeline.Message{From: timeline.Client, Label: story.LabelQuestion, Text: "q", WantedAt: 400 * time.Microsecond,
		Sent: true, SentAt: 81 * time.Millisecond, Heard: true, HeardAt: 121600 * time.Microsecond}
	tl := &timeline.Timeline{Duration: time.Second, Messages: []timeline.Message{msg}}
	got := strings.Join(callouts([]snapshot{{tl: tl}}, []string{story.LabelQuestion}, newStyles(render.Style{}), -1, 200), "\n")
	if !strings.Contains(got, "wanted at 0 ms") || !strings.Contains(got, "heard at 122 ms, 122 ms after") {
		t.Errorf("callout %q: want wanted at 0 ms, heard at 122 ms, 122 ms after", got)
	}
}
