package story

import "sync"

// Progress follows grandma's story as the grandchild hears it, so that she
// interrupts only once it has begun and says goodbye only once it is over,
// however slow the link makes it. Its methods are safe for concurrent use.
type Progress struct {
	sentences int
	anytime   chan struct{} // closed from the start
	begun     chan struct{}
	ended     chan struct{}

	mu    sync.Mutex
	heard int
}

// NewProgress follows a story of s's length.
func NewProgress(s Script) *Progress {
	p := &Progress{sentences: len(s.Story), anytime: make(chan struct{}), begun: make(chan struct{}), ended: make(chan struct{})}
	close(p.anytime)
	return p
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

// Reached returns a channel that is closed once the grandchild has heard
// the story get as far as m; for Anytime it is closed already.
func (p *Progress) Reached(m Milestone) <-chan struct{} {
	switch m {
	case StoryBegun:
		return p.begun
	case StoryEnded:
		return p.ended
	}
	return p.anytime
}
