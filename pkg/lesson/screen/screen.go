// Package screen is the lesson as a full-screen program, for a terminal in
// front of a class: each chapter on one screen, its title and explanation
// at the top, its demo in the middle as swimlanes that grow while the call
// runs, and what the call measured at the bottom. Single keys move
// through it; keys pressed while a demo runs are dropped, never kept for
// a later prompt.
//
// It is built on bubbletea (the program, the keys, the alternate screen and
// resizing) and lipgloss (the styles); the pictures come from the lesson
// and its views, as in the plain-text lesson.
package screen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/duplexdemo/duplexdemo/internal/syncbuf"
	"github.com/duplexdemo/duplexdemo/pkg/lesson"
)

// The least terminal the lesson lays out a chapter on: every chapter's
// title, picture and conclusion fit on it together.
const (
	MinWidth  = 80
	MinHeight = 24
)

// tickEvery is how often the picture of a call still going on is redrawn:
// often enough that the lanes grow smoothly, well inside the 100 ms a key
// must be answered in.
const tickEvery = 100 * time.Millisecond

// maxFPS is how often the screen may be redrawn, at most, per second:
// bubbletea's highest, so that a key's answer waits at most 8 ms for its
// frame.
const maxFPS = 120

// ErrInterrupted is returned by Run when the teacher pressed Ctrl-C.
var ErrInterrupted = errors.New("interrupted by Ctrl-C")

// Options say what to show and where.
type Options struct {
	// Teacher plays the chapters. Run sets its Out, Watch and Style.Width
	// for each demo; set the rest.
	Teacher *lesson.Teacher
	// Chapters are the lesson's chapters, and Start the one to begin with,
	// from 1.
	Chapters []lesson.Chapter
	Start    int
	// Predict asks for the class's guess before each demo that measures a
	// number the chapter asks about.
	Predict bool
	// Width, if not 0, is the most columns to draw in; the terminal's width
	// otherwise.
	Width int
	// In and Out are the terminal.
	In  io.Reader
	Out io.Writer
	// Options are more bubbletea options, for tests.
	Options []tea.ProgramOption
}

// Run shows the lesson until the teacher quits or goes past the last
// chapter, and reports which: finished is true for the latter. It returns
// once every demo it started has stopped. The terminal is restored on every
// way out: q, Ctrl-C (ErrInterrupted), ctx ending (a signal), or a panic.
func Run(ctx context.Context, o Options) (finished bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m := newModel(ctx, o)
	opts := append([]tea.ProgramOption{
		tea.WithInput(o.In), tea.WithOutput(o.Out), tea.WithAltScreen(),
		tea.WithoutSignalHandler(), // the command's own handler decides the exit status
		tea.WithFPS(maxFPS),
	}, o.Options...)
	p := tea.NewProgram(m, opts...)
	// The context ending (a signal) quits as q does, not by bubbletea's
	// WithContext, which kills the program without waiting for its input
	// reader to stop.
	stop := context.AfterFunc(ctx, p.Quit)
	final, err := p.Run()
	stopped := !stop()
	cancel()
	fm, _ := final.(*model)
	if fm == nil {
		fm = m
	}
	fm.wait()
	if err != nil {
		return false, err
	}
	if stopped && fm.quitErr == nil {
		return false, context.Cause(ctx)
	}
	return fm.finished, fm.quitErr
}

// state is where a chapter stands.
type state int

const (
	// asking waits for the class's guess before the demo.
	asking state = iota
	// running: the demo's calls are going on.
	running
	// done: the demo is over and its numbers are shown.
	done
	// failed: the demo stopped with an error.
	failed
)

// overlay is what covers the chapter, if anything.
type overlay int

const (
	none overlay = iota
	keysHelp
	fullLog
)

// model is the bubbletea model of the lesson.
type model struct {
	// play plays chapter n, on the context Run was given.
	play   func(n int) (lesson.Page, error)
	o      Options
	styles styles

	w, h int // the terminal's size

	n       int // the chapter shown
	page    lesson.Page
	state   state
	guess   string         // digits of the class's guess being typed
	guesses map[int]string // the guesses given, by chapter
	board   *board
	log     *syncbuf.Buffer // the chapter's text, as the plain lesson prints it
	err     error           // why the demo failed
	// bottoms are the rows each chapter's conclusion took when last shown,
	// so that the layout of a chapter whose demo is running leaves room for
	// it, and does not change when the numbers arrive.
	bottoms map[int]int
	// fitFrom is, for each chapter, the leanest layout it has needed at
	// this size of the terminal: later frames start from it.
	fitFrom map[int]int

	overlay overlay
	scroll  int    // first line of the full log shown
	flash   string // a word about the last key, until the next

	gen     int           // the demo running or last run; older news is dropped
	running chan struct{} // closed when the demo's goroutine has ended

	finished bool
	quitErr  error
}

func newModel(ctx context.Context, o Options) *model {
	play := func(n int) (lesson.Page, error) { return o.Teacher.Play(ctx, o.Chapters, n) }
	m := &model{play: play, o: o, styles: newStyles(o.Teacher.Style), w: MinWidth, h: MinHeight, guesses: map[int]string{}, bottoms: map[int]int{}, fitFrom: map[int]int{}, log: &syncbuf.Buffer{}}
	m.n = max(o.Start, 1)
	return m
}

// wait blocks until the last demo started has stopped.
func (m *model) wait() {
	if m.running != nil {
		<-m.running
	}
}

// demoDone says that demo gen is over.
type demoDone struct {
	gen  int
	page lesson.Page
	err  error
}

// panicked says that a demo panicked.
type panicked struct{ err error }

// tick asks for the picture of demo gen to be drawn again.
type tick struct{ gen int }

func (m *model) Init() tea.Cmd { return m.open(m.n) }

// open shows chapter n and, unless it asks for a guess first, starts its
// demo.
func (m *model) open(n int) tea.Cmd {
	m.n, m.overlay, m.scroll, m.err, m.log = n, none, 0, nil, &syncbuf.Buffer{}
	m.page = m.o.Teacher.Page(m.o.Chapters, n)
	m.board = &board{}
	if m.o.Predict && m.page.Question != "" {
		m.state, m.guess = asking, m.guesses[n]
		return nil
	}
	return m.start()
}

// start runs the chapter's demo on a goroutine of its own, recording its
// text for the full log and its calls' events on the board, and returns the
// command that brings its news. The goroutine is started here, not as a
// command: bubbletea drops the commands still pending when the program
// quits, and a demo that never started would never say it had stopped
// (Run waits for it).
func (m *model) start() tea.Cmd {
	m.gen++
	gen, n := m.gen, m.n
	m.state = running
	m.guesses[n] = m.guess
	t := m.o.Teacher
	buf := m.log
	t.Out, t.Watch = buf, m.board.watch
	t.Style.Width = m.width()
	finished := make(chan struct{})
	m.running = finished
	play := m.play
	news := make(chan tea.Msg, 1) // never blocks the demo, read or not
	go func() {
		defer close(finished)
		var msg tea.Msg
		defer func() { news <- msg }()
		// A panic in a demo ends the lesson as q does, with an error:
		// bubbletea's own recovery kills the program without waiting for
		// its input reader.
		defer func() {
			if r := recover(); r != nil {
				msg = panicked{fmt.Errorf("%w: a demo panicked: %v", tea.ErrProgramPanic, r)}
			}
		}()
		page, err := play(n)
		msg = demoDone{gen, page, err}
	}()
	return tea.Batch(func() tea.Msg { return <-news }, m.tick(gen))
}

func (m *model) tick(gen int) tea.Cmd {
	return tea.Tick(tickEvery, func(time.Time) tea.Msg { return tick{gen} })
}

// width is the number of columns to draw in.
func (m *model) width() int {
	if m.o.Width > 0 {
		return min(m.w, m.o.Width)
	}
	return m.w
}

func (m *model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		if msg.Width != m.w || msg.Height != m.h {
			m.bottoms, m.fitFrom = map[int]int{}, map[int]int{}
		}
		m.w, m.h = msg.Width, msg.Height
	case tick:
		if msg.gen == m.gen && m.state == running {
			return m, m.tick(msg.gen)
		}
	case demoDone:
		if msg.gen != m.gen {
			break
		}
		m.board.end()
		if m.state == running {
			m.flash = "" // a word about keys dropped during the call is over too
		}
		if msg.err != nil {
			m.state, m.err = failed, msg.err
			break
		}
		m.state, m.page = done, msg.page
	case panicked:
		m.quitErr = msg.err
		return m, tea.Quit
	case tea.KeyMsg:
		return m, m.key(msg)
	}
	return m, nil
}

// key answers one key.
func (m *model) key(k tea.KeyMsg) tea.Cmd {
	m.flash = ""
	key := k.String()
	switch key {
	case "ctrl+c":
		m.quitErr = ErrInterrupted
		return tea.Quit
	case "q":
		return tea.Quit
	}
	if m.w < MinWidth || m.h < MinHeight {
		return nil // nothing else answers a screen that shows only its size
	}
	switch m.overlay {
	case fullLog:
		m.scrollLog(key)
		return nil
	case keysHelp:
		m.overlay = none
		return nil
	}
	switch key {
	case "?":
		m.overlay = keysHelp
		return nil
	case "l":
		if m.state != asking {
			m.overlay, m.scroll = fullLog, follow
		}
		return nil
	}
	switch m.state {
	case asking:
		return m.answerKey(k)
	case running:
		m.flash = "A call is running: keys are dropped until it is over (q quits)."
		return nil
	}
	switch key {
	case "right", " ", "enter", "n", "pgdown":
		if m.n == len(m.o.Chapters) {
			m.finished = true
			return tea.Quit
		}
		return m.open(m.n + 1)
	case "left", "b", "pgup":
		if m.n == 1 {
			m.flash = "This is the first chapter."
			return nil
		}
		return m.open(m.n - 1)
	case "r":
		return m.open(m.n)
	}
	m.flash = m.keyHint()
	return nil
}

// answerKey takes a key of the class's guess: digits, Backspace, Enter to
// run the demo (with no digits, without a guess), or going back.
func (m *model) answerKey(k tea.KeyMsg) tea.Cmd {
	switch key := k.String(); {
	case len(key) == 1 && key >= "0" && key <= "9":
		if len(m.guess) < 6 {
			m.guess += key
		}
	case key == "backspace":
		if m.guess != "" {
			m.guess = m.guess[:len(m.guess)-1]
		}
	case key == "enter" || key == "right" || key == " ":
		return m.start()
	case key == "esc":
		m.guess = ""
		return m.start()
	case key == "left" || key == "b":
		if m.n > 1 {
			return m.open(m.n - 1)
		}
		m.flash = "This is the first chapter."
	default:
		m.flash = "Type the class's guess in milliseconds, then Enter."
	}
	return nil
}

// follow is the full log's scroll while it keeps to its end, as new lines
// come.
const follow = -1

// scrollLog moves the full log, or closes it.
func (m *model) scrollLog(key string) {
	page := max(m.h-2, 1)
	n := len(lines(m.log.String()))
	last := max(n-page, 0)
	if m.scroll == follow {
		m.scroll = last
	}
	switch key {
	case "up", "k":
		m.scroll--
	case "down", "j":
		m.scroll++
	case "pgup", "b", "left":
		m.scroll -= page
	case "pgdown", " ", "right", "f":
		m.scroll += page
	case "home", "g":
		m.scroll = 0
	case "end", "G":
		m.scroll = follow
		return
	case "l", "esc", "enter":
		m.overlay = none
	}
	m.scroll = min(max(m.scroll, 0), last)
}
