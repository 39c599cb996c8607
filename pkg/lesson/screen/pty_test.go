//go:build linux

package screen_test

// These tests run the lesson in-process on a real pseudo-terminal: the
// program's input and output are the terminal's end, and the test plays the
// terminal emulator on the other (the master), typing keys into it and
// reading everything the program draws. They check what only a real
// terminal shows: that every way out leaves the terminal as it was (its
// modes, the main screen, the cursor), that keys typed during a demo are
// dropped, and that a resize redraws the screen.
//
// Time is real (no synctest: the terminal is real I/O), with generous
// deadlines: the machine may be busy.
//
// Each test checks with goleak that no goroutine it started outlives it, as
// the package's TestMain (main_test.go) does for them all.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/creack/pty"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/duplexdemo/duplexdemo/internal/pipenet"
	"github.com/duplexdemo/duplexdemo/pkg/lesson"
	"github.com/duplexdemo/duplexdemo/pkg/lesson/screen"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/view/render"
)

const (
	// waitLimit is the longest any one wait lasts: the machine may be busy.
	waitLimit = 30 * time.Second
	// pollEvery is how often a wait looks again.
	pollEvery = 20 * time.Millisecond
)

// The keys as a terminal sends them.
const (
	keyRight = "\x1b[C"
	keyEnter = "\r"
	keyCtrlC = "\x03"
)

// What the terminal is told on the way in and on the way out.
const (
	altScreenOn  = "\x1b[?1049h"
	altScreenOff = "\x1b[?1049l"
	cursorHidden = "\x1b[?25l"
	cursorShown  = "\x1b[?25h"
	pasteOn      = "\x1b[?2004h"
	pasteOff     = "\x1b[?2004l"
)

// pseudo is a pseudo-terminal: tty is the end the program uses, master the
// terminal emulator's, which a goroutine reads all the time into out (a
// terminal nobody reads blocks the program's writes).
type pseudo struct {
	t           *testing.T
	master, tty *os.File
	mu          sync.Mutex
	out         []byte
	done        chan struct{} // closed when the reader has stopped
	ttyOnce     sync.Once
	closeOnce   sync.Once
}

// openPseudo opens a pseudo-terminal of cols by rows, closed when the test
// ends. Then no goroutine the test started may be left (the package's
// TestMain checks the same, but cannot say which test left it).
func openPseudo(t *testing.T, cols, rows int) *pseudo {
	t.Helper()
	already := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, already) })
	master, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	p := &pseudo{t: t, master: master, tty: tty, done: make(chan struct{})}
	go p.read()
	t.Cleanup(p.close)
	p.setSize(cols, rows)
	return p
}

// read keeps what the program writes until the terminal closes.
func (p *pseudo) read() {
	defer close(p.done)
	buf := make([]byte, 32<<10)
	for {
		n, err := p.master.Read(buf)
		if n > 0 {
			p.mu.Lock()
			p.out = append(p.out, buf[:n]...)
			p.mu.Unlock()
		}
		if err != nil { // EIO once the program's end is closed and all read
			return
		}
	}
}

// hangUp closes the program's end, as the program exiting would, and waits
// up to limit for the reader to have read everything the program wrote: a
// master reads what is left, then fails. It says whether the reader is done.
// (pty.Open leaves the master blocking, so closing it would not end a read
// under way: the reader ends this way.)
func (p *pseudo) hangUp(limit time.Duration) bool {
	p.ttyOnce.Do(func() { p.tty.Close() })
	select {
	case <-p.done:
		return true
	case <-time.After(limit):
		return false
	}
}

// close closes both ends once the reader has stopped.
func (p *pseudo) close() {
	p.closeOnce.Do(func() {
		if !p.hangUp(waitLimit) {
			p.t.Errorf("the terminal's reader has not stopped %v after the program's end closed", waitLimit)
		}
		p.master.Close()
	})
}

// output is everything the program has written so far.
func (p *pseudo) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return string(p.out)
}

// send types keys.
func (p *pseudo) send(keys string) {
	p.t.Helper()
	if _, err := p.master.Write([]byte(keys)); err != nil {
		p.t.Fatalf("typing %q: %v", keys, err)
	}
}

// setSize sets the terminal's size, as a window resized would.
func (p *pseudo) setSize(cols, rows int) {
	p.t.Helper()
	if err := pty.Setsize(p.master, &pty.Winsize{Cols: uint16(cols), Rows: uint16(rows)}); err != nil {
		p.t.Fatalf("resizing the terminal to %dx%d: %v", cols, rows, err)
	}
}

// termios returns the terminal's modes.
func (p *pseudo) termios() unix.Termios {
	p.t.Helper()
	tio, err := unix.IoctlGetTermios(int(p.tty.Fd()), unix.TCGETS)
	if err != nil {
		p.t.Fatalf("reading the terminal's modes: %v", err)
	}
	return *tio
}

// waitFor waits until the output after from satisfies ok, calling every
// (if not nil) at each look, and returns where the output stood then.
func (p *pseudo) waitFor(what string, from int, ok func(out string) bool, every func()) int {
	p.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		out := p.output()
		if ok(out[min(from, len(out)):]) {
			return len(out)
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("waited %v for %s; the output after the mark, escapes stripped:\n%s", waitLimit, what, tail(ansi.Strip(out[min(from, len(out)):]), 4000))
		}
		if every != nil {
			every()
		}
		time.Sleep(pollEvery)
	}
}

// waitText waits until text appears after from, and returns where the
// output stood then.
func (p *pseudo) waitText(from int, text string) int {
	p.t.Helper()
	return p.waitFor(fmt.Sprintf("%q", text), from, func(out string) bool { return strings.Contains(out, text) }, nil)
}

// tail is the end of s, at most n bytes.
func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// The two halves of a Teacher's Network.
type (
	netListener = net.Listener
	netDial     = func(ctx context.Context, network, addr string) (net.Conn, error)
)

// lessonRun is screen.Run going on on a goroutine.
type lessonRun struct {
	cancel   context.CancelCauseFunc
	done     chan struct{}
	finished bool
	err      error
	ended    time.Time
}

// lastChapter is the lesson's last chapter's number: how many there are.
var lastChapter = len(lesson.Chapters())

// chapterTitle is how the screen's title bar begins for chapter n.
func chapterTitle(n int) string { return fmt.Sprintf("Chapter %d of %d", n, lastChapter) }

// teacher plays the lesson over the in-memory network, or over network if
// it is not nil.
func teacher(network func() (netListener, netDial)) *lesson.Teacher {
	if network == nil {
		network = func() (netListener, netDial) {
			l := pipenet.Listen()
			return l, l.DialContext
		}
	}
	return &lesson.Teacher{Style: render.Style{Width: 80}, Script: story.Default(), Latency: 40 * time.Millisecond, Network: network}
}

// run starts the lesson on the terminal at chapter start. When the test
// ends it is stopped, if it has not ended, and waited for.
func run(t *testing.T, p *pseudo, tch *lesson.Teacher, start int) *lessonRun {
	t.Helper()
	ctx, cancel := context.WithCancelCause(context.Background())
	r := &lessonRun{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.finished, r.err = screen.Run(ctx, screen.Options{Teacher: tch, Chapters: lesson.Chapters(), Start: start, In: p.tty, Out: p.tty})
		r.ended = time.Now()
	}()
	t.Cleanup(func() {
		cancel(errors.New("the test is over"))
		select {
		case <-r.done:
		case <-time.After(waitLimit):
			t.Errorf("screen.Run has not returned %v after the test ended", waitLimit)
		}
	})
	return r
}

// wait waits for Run to return.
func (r *lessonRun) wait(t *testing.T) (finished bool, err error) {
	t.Helper()
	select {
	case <-r.done:
		return r.finished, r.err
	case <-time.After(waitLimit):
		t.Fatalf("screen.Run has not returned after %v", waitLimit)
		return false, nil
	}
}

// checkRaw checks the program has put the terminal in raw mode: otherwise
// checking that the modes are back would prove nothing.
func checkRaw(t *testing.T, p *pseudo, before unix.Termios) {
	t.Helper()
	now := p.termios()
	if now == before || now.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 {
		t.Errorf("while the lesson runs the terminal is not in raw mode: lflag %#o (before %#o)", now.Lflag, before.Lflag)
	}
}

// checkRestored checks, once Run has returned, that the terminal is as it
// was before the lesson: the same modes (raw mode undone), the main screen
// again, the cursor shown and bracketed paste off. It closes the program's
// end, to read all the program wrote.
func checkRestored(t *testing.T, p *pseudo, before unix.Termios) {
	t.Helper()
	after := p.termios()
	if after != before {
		t.Errorf("the terminal's modes were not restored:\n  iflag %#o, want %#o\n  oflag %#o, want %#o\n  cflag %#o, want %#o\n  lflag %#o, want %#o\n  cc %v, want %v",
			after.Iflag, before.Iflag, after.Oflag, before.Oflag, after.Cflag, before.Cflag, after.Lflag, before.Lflag, after.Cc, before.Cc)
	}
	if !p.hangUp(waitLimit) {
		t.Fatalf("the terminal's output did not end %v after its end closed", waitLimit)
	}
	if wrong := restored(p.output()); wrong != "" {
		t.Errorf("the program's output leaves the terminal wrong: %s; its last bytes: %q", wrong, tail(p.output(), 300))
	}
}

// restored says what out leaves the terminal in that it found otherwise, or
// "" for nothing.
func restored(out string) string {
	var wrong []string
	for _, c := range []struct{ what, on, off string }{
		{"the alternate screen", altScreenOn, altScreenOff},
		{"the cursor hidden", cursorHidden, cursorShown},
		{"bracketed paste", pasteOn, pasteOff},
	} {
		on, off := strings.LastIndex(out, c.on), strings.LastIndex(out, c.off)
		switch {
		case on < 0:
			wrong = append(wrong, fmt.Sprintf("never entered %s (%q)", c.what, c.on))
		case off < on:
			wrong = append(wrong, fmt.Sprintf("left in %s (no %q after the last %q)", c.what, c.off, c.on))
		}
	}
	return strings.Join(wrong, "; ")
}

// TestPtyQuit: q, during a demo or after it, quits, and the terminal is as
// it was.
func TestPtyQuit(t *testing.T) {
	for _, after := range []bool{false, true} {
		t.Run(map[bool]string{false: "during the demo", true: "after the demo"}[after], func(t *testing.T) {
			p := openPseudo(t, 80, 24)
			before := p.termios()
			r := run(t, p, teacher(nil), 1)
			at := p.waitText(0, chapterTitle(1))
			checkRaw(t, p, before)
			if after {
				p.waitText(at, "What just happened")
			}
			p.send("q")
			finished, err := r.wait(t)
			if finished || err != nil {
				t.Errorf("after q, Run returned (%v, %v), want (false, nil)", finished, err)
			}
			checkRestored(t, p, before)
		})
	}
}

// TestPtyFinish: Right after the last chapter's demo ends the lesson,
// finished, and the terminal is as it was.
func TestPtyFinish(t *testing.T) {
	p := openPseudo(t, 80, 24)
	before := p.termios()
	r := run(t, p, teacher(nil), lastChapter)
	at := p.waitText(0, chapterTitle(lastChapter))
	p.waitText(at, "About these numbers")
	p.send(keyRight)
	finished, err := r.wait(t)
	if !finished || err != nil {
		t.Errorf("after Right on the last chapter, Run returned (%v, %v), want (true, nil)", finished, err)
	}
	checkRestored(t, p, before)
}

// TestPtyCtrlC: Ctrl-C is a key in raw mode, not a signal: Run returns
// ErrInterrupted, and the terminal is as it was.
func TestPtyCtrlC(t *testing.T) {
	p := openPseudo(t, 80, 24)
	before := p.termios()
	r := run(t, p, teacher(nil), 1)
	p.waitText(0, chapterTitle(1))
	checkRaw(t, p, before)
	p.send(keyCtrlC)
	finished, err := r.wait(t)
	if finished || !errors.Is(err, screen.ErrInterrupted) {
		t.Errorf("after Ctrl-C, Run returned (%v, %v), want (false, %v)", finished, err, screen.ErrInterrupted)
	}
	checkRestored(t, p, before)
}

// terminated is the cause the command cancels its context with on SIGTERM:
// a context.Canceled that says which signal.
type terminated struct{}

func (terminated) Error() string        { return "stopped by terminated" }
func (terminated) Is(target error) bool { return target == context.Canceled }

// TestPtyContextCancelled: the context ending (the command's SIGTERM) stops
// the lesson and the demo under way at once; Run returns the context's
// cause, and the terminal is as it was.
func TestPtyContextCancelled(t *testing.T) {
	p := openPseudo(t, 80, 24)
	before := p.termios()
	r := run(t, p, teacher(nil), 1)
	p.waitText(0, chapterTitle(1))
	p.waitText(0, "A call is running") // the demo has begun: the key bar says so
	checkRaw(t, p, before)
	cancelled := time.Now()
	r.cancel(terminated{})
	finished, err := r.wait(t)
	if finished || !errors.Is(err, terminated{}) || !errors.Is(err, context.Canceled) {
		t.Errorf("after the context ended, Run returned (%v, %v), want (false, its cause %v)", finished, err, terminated{})
	}
	// The demo lasts about 2.7 s; Run returns once it has stopped, so a
	// demo that ignored the context would hold Run past this.
	if took := r.ended.Sub(cancelled); took > 1500*time.Millisecond {
		t.Errorf("Run returned %v after the context ended, want it at once: the demo under way did not stop", took)
	}
	if strings.Contains(p.output(), "What just happened") {
		t.Errorf("the demo ran to its end although the context ended during it")
	}
	checkRestored(t, p, before)
}

// TestPtyPanic: a panic in a demo (here the network's, when chapter 2
// starts) ends the lesson with an error, and the terminal is as it was.
// Bubbletea prints the panic and a stack to standard output.
func TestPtyPanic(t *testing.T) {
	p := openPseudo(t, 80, 24)
	before := p.termios()
	var broken atomic.Bool
	network := func() (netListener, netDial) {
		if broken.Load() {
			panic("the network broke (a panic the test wants)")
		}
		l := pipenet.Listen()
		return l, l.DialContext
	}
	r := run(t, p, teacher(network), 1)
	at := p.waitText(0, chapterTitle(1))
	p.waitText(at, "What just happened")
	broken.Store(true)
	p.send(keyRight)
	finished, err := r.wait(t)
	if finished || err == nil || !errors.Is(err, tea.ErrProgramPanic) {
		t.Errorf("after a panic, Run returned (%v, %v), want (false, an error that is %v)", finished, err, tea.ErrProgramPanic)
	}
	checkRestored(t, p, before)
}

// TestPtyTypeahead: Enter typed while chapter 1's demo runs is dropped:
// when the demo is over, chapter 1 is still shown; then Right moves on.
func TestPtyTypeahead(t *testing.T) {
	p := openPseudo(t, 80, 24)
	before := p.termios()
	r := run(t, p, teacher(nil), 1)
	at := p.waitText(0, chapterTitle(1))
	p.send(keyEnter + keyEnter + keyEnter)
	// The keys reached the program while the demo ran: it says so, on the
	// key bar ("A call is running …" without a colon otherwise).
	at = p.waitText(at, "A call is running:")
	if strings.Contains(p.output(), "What just happened") {
		t.Fatalf("the demo was over before the keys reached the program: the test proves nothing")
	}
	// Once the demo is over, the key bar says what keys do now: the word
	// about dropped keys has gone with the call.
	at = p.waitFor("the demo's end: its conclusion, and the key bar's \"r: run again\"", at, func(out string) bool {
		return strings.Contains(out, "What just happened") && strings.Contains(out, "r: run again")
	}, nil)
	time.Sleep(300 * time.Millisecond) // room for a kept key to act, if one were kept
	if out := p.output(); strings.Contains(out, chapterTitle(2)) {
		t.Fatalf("Enter typed during chapter 1's demo moved on to chapter 2 when it ended:\n%s", tail(ansi.Strip(out[at:]), 4000))
	}
	// The chapter shown is still 1: its full log says which it is.
	p.send("l")
	at = p.waitText(at, chapterTitle(1)+" · the full log")
	p.send("l")
	p.send(keyRight)
	p.waitText(at, chapterTitle(2))
	p.send("q")
	if finished, err := r.wait(t); finished || err != nil {
		t.Errorf("after q, Run returned (%v, %v), want (false, nil)", finished, err)
	}
	checkRestored(t, p, before)
}

// titleBar is the top row of a chapter, as drawn without colour.
var titleBar = regexp.MustCompile(` Chapter \d+ of \d+ [^\x1b\r\n]*? \? keys `)

// hasTitleBar says whether out draws a chapter's title bar exactly cols
// columns wide.
func hasTitleBar(out string, cols int) bool {
	for _, bar := range titleBar.FindAllString(out, -1) {
		if ansi.StringWidth(bar) == cols {
			return true
		}
	}
	return false
}

// TestPtyResize: when the window grows, the screen is drawn again to its
// width; when it shrinks below 80x24, the lesson says what it needs.
func TestPtyResize(t *testing.T) {
	p := openPseudo(t, 80, 24)
	before := p.termios()
	r := run(t, p, teacher(nil), 1)
	at := p.waitFor("the title bar 80 columns wide", 0, func(out string) bool { return hasTitleBar(out, 80) }, nil)

	// The terminal is not the test's controlling terminal, so the kernel
	// tells nobody of the new size: send SIGWINCH as it would, again at
	// each look in case the program was not listening yet.
	winch := func() { _ = syscall.Kill(os.Getpid(), syscall.SIGWINCH) }
	p.setSize(120, 40)
	at = p.waitFor("the title bar drawn again 120 columns wide", at, func(out string) bool { return hasTitleBar(out, 120) }, winch)

	p.setSize(60, 20)
	p.waitFor("the lesson to say it needs 80x24", at, func(out string) bool {
		text := strings.Join(strings.Fields(ansi.Strip(out)), " ")
		return strings.Contains(text, "needs a terminal of at least 80 columns and 24 rows; this one is 60 by 20")
	}, winch)

	p.send("q")
	if finished, err := r.wait(t); finished || err != nil {
		t.Errorf("after q, Run returned (%v, %v), want (false, nil)", finished, err)
	}
	checkRestored(t, p, before)
}
