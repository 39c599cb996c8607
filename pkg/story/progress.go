package story

import (
	"context"
	"sync"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// Progress follows grandma's story as the grandchild hears it, so that she
// interrupts only once it has begun and says goodbye only once it is over,
// however slow the link makes it. Its methods are safe for concurrent use.
type Progress struct {
	sentences int
	begun     chan struct{}
	ended     chan struct{}

	mu    sync.Mutex
	heard int
}

// NewProgress follows a story of s's length.
func NewProgress(s Script) *Progress {
	return &Progress{sentences: len(s.Story), begun: make(chan struct{}), ended: make(chan struct{})}
}

// Heard notes a line the grandchild heard, by its label.
func (p *Progress) Heard(label string) {
	if label != LabelStory {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.heard++
	switch p.heard {
	case 1:
		close(p.begun)
	case p.sentences:
		close(p.ended)
	}
}

// Begun is closed once the grandchild has heard the story's first sentence.
func (p *Progress) Begun() <-chan struct{} { return p.begun }

// Ended is closed once she has heard its last.
func (p *Progress) Ended() <-chan struct{} { return p.ended }

// Await blocks until the call's clock reads at and after is closed,
// whichever comes later, or until ctx ends, in which case it returns ctx's
// error: a line is wanted at its scripted time, but never before it makes
// sense to say it.
func Await(ctx context.Context, rec *timeline.Recorder, at time.Duration, after <-chan struct{}) error {
	if err := rec.SleepUntil(ctx, at); err != nil {
		return err
	}
	select {
	case <-after:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
