package screen

import (
	"sync"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// board keeps the events of the calls a chapter's demo is playing, as
// their recorders tell them, for the screen to draw the calls as they grow.
// Observers write to it from the calls' goroutines; the screen reads it.
type board struct {
	mu    sync.Mutex
	calls []*watched
}

// watched is one call on the board.
type watched struct {
	mode   call.Mode
	start  time.Time // about when its recorder started
	events []timeline.Event
	ended  bool
}

// watch adds a call in mode m to the board and returns the observer its
// recorder tells its events to. It is a lesson.Teacher's Watch.
func (b *board) watch(m call.Mode) timeline.Observer {
	w := &watched{mode: m, start: time.Now()}
	b.mu.Lock()
	b.calls = append(b.calls, w)
	b.mu.Unlock()
	return func(e timeline.Event) {
		b.mu.Lock()
		w.events = append(w.events, e)
		b.mu.Unlock()
	}
}

// end marks every call on the board as over: its last event is its end.
func (b *board) end() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, w := range b.calls {
		w.ended = true
	}
}

// snapshot is one call on the board as it stood at a moment.
type snapshot struct {
	mode call.Mode
	tl   *timeline.Timeline
}

// snapshots returns every call on the board as it stands now: a call still
// going on reaches up to now on its clock, a call over to its last event.
func (b *board) snapshots() []snapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]snapshot, 0, len(b.calls))
	for _, w := range b.calls {
		events := append([]timeline.Event(nil), w.events...)
		var now time.Duration
		if n := len(events); n > 0 {
			now = events[n-1].At
		}
		if !w.ended {
			now = max(now, time.Since(w.start))
		}
		out = append(out, snapshot{w.mode, timeline.Replay(events, now)})
	}
	return out
}
