package roundtrip

import (
	"context"
	"fmt"
	"testing"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// Roles are a mode's two sides of a call as a benchmark plays them:
// grandma, as the mode serves her, and in the grandchild's place a driver
// (Roles.Grandchild) that opens the mode's connection, runs the
// grandchild's own writer and reader on it, and holds it open until its
// context ends, with no script: she says a line only when Say hands her
// writer one.
type Roles struct {
	call.Roles
	// Say hands the grandchild's writer the interruption, recorded as
	// wanted now, and returns true once the writer has taken it, or false
	// if over is closed first: the call is over.
	Say func(over <-chan struct{}) bool
}

// Play returns a Line that carries the interruption there and back on a
// call in mode m, played in this process at latency 0 by call.Run (the
// emulated link only counts), with the roles local sets up: a trip is
// over when the grandchild's reader has heard grandma's answer, as the
// call's recorder records it. Every step is recorded as in a call, on the
// default script, whose lines are not otherwise said.
//
// perCall bounds the trips one call can carry (a mode's reader may hear
// at most call.MaxAnswer bytes on one answer); 0 sets no bound. Rest
// starts a new call when the next block would take this one past it.
//
// The call, and each new one, has made its first trip, off the clock;
// the last one is stopped, with everything it started, when tb's cleanup
// runs.
func Play(tb testing.TB, m call.Mode, perCall int, local func(s *call.Session) Roles) Line {
	tb.Helper()
	p := &player{mode: m, perCall: perCall, local: local, answered: make(chan struct{}, 1)}
	tb.Cleanup(p.stop)
	if err := p.start(); err != nil {
		tb.Fatal(err)
	}
	return Line{Trip: p.trip, Rest: p.rest}
}

// player plays one call after another for a benchmark. Only the
// benchmark's goroutine uses it, but for answered, which the calls'
// recorders signal on.
type player struct {
	mode    call.Mode
	perCall int
	local   func(s *call.Session) Roles
	// answered receives a signal each time the grandchild hears grandma's
	// answer; one trip is under way at a time, so a signal is never lost.
	answered chan struct{}

	playing *playing // the call under way
	carried int      // the trips it has carried, or is about to
}

// playing is one call under way.
type playing struct {
	stop  context.CancelFunc // stops the call
	ready chan struct{}      // closed once the roles are set up: say and rec are set
	over  chan struct{}      // closed once call.Run has returned: err is set
	say   func(over <-chan struct{}) bool
	rec   *timeline.Recorder
	err   error
}

// observe is the calls' observer: it signals each answer the grandchild
// hears, without waiting (it runs under the recorder's lock).
func (p *player) observe(e timeline.Event) {
	if e.Kind == timeline.KindHeard && e.Side == timeline.Client && e.Label == story.LabelAnswer {
		select {
		case p.answered <- struct{}{}:
		default:
		}
	}
}

// start starts a call and carries the first line on it.
func (p *player) start() error {
	ctx, cancel := context.WithCancel(context.Background())
	c := &playing{stop: cancel, ready: make(chan struct{}), over: make(chan struct{})}
	m := p.mode
	m.Local = func(s *call.Session) call.Roles {
		r := p.local(s)
		c.say, c.rec = r.Say, s.Rec
		close(c.ready)
		return r.Roles
	}
	go func() {
		defer close(c.over)
		_, c.err = call.Run(ctx, m, call.Config{Script: story.Default(), Observer: p.observe})
	}()
	p.playing, p.carried = c, 1
	select {
	case <-c.ready:
	case <-c.over:
		return fmt.Errorf("the %s call did not start: %w", m.Key, c.err)
	}
	select {
	case <-p.answered: // left over from the call before
	default:
	}
	return p.trip()
}

// trip carries one line on the call under way.
func (p *player) trip() error {
	c := p.playing
	if c.say(c.over) {
		select {
		case <-p.answered:
			return nil
		case <-c.over:
		}
	}
	<-c.over
	return fmt.Errorf("the %s call ended under the benchmark: %v", p.mode.Key, c.err)
}

// rest has the recorder forget what it recorded, and starts a new call if
// the next block would take this one past perCall.
func (p *player) rest(next int) error {
	if p.perCall > 0 && p.carried+next > p.perCall {
		p.stop()
		if err := p.start(); err != nil {
			return err
		}
	}
	p.playing.rec.Reset() // no line is under way between two trips
	p.carried += next
	return nil
}

// stop stops the call under way, and returns once everything it started
// has ended.
func (p *player) stop() {
	if c := p.playing; c != nil {
		c.stop()
		<-c.over
	}
}
