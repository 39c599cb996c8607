package story

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDefault(t *testing.T) {
	s := Default()
	if len(s.Story) != DefaultSentences || s.Pace != 250*time.Millisecond || s.InterruptAt != 600*time.Millisecond {
		t.Errorf("default: %d sentences every %v, interrupt at %v; want 6, 250ms, 600ms", len(s.Story), s.Pace, s.InterruptAt)
	}
	if s.AfterthoughtAt != 2*time.Second || s.GoodbyeAt != 2600*time.Millisecond {
		t.Errorf("default afterthought at %v, goodbye at %v; want 2s and 2.6s", s.AfterthoughtAt, s.GoodbyeAt)
	}
	if s.StoryEnd() != 1250*time.Millisecond {
		t.Errorf("StoryEnd() = %v, want 1.25s", s.StoryEnd())
	}
	for _, line := range []string{s.Goodbye, s.Farewell} {
		if len(line) > 123 {
			t.Errorf("%q is longer than a WebSocket close reason may be (123 bytes)", line)
		}
	}
}

func TestSpeedScalesEveryScriptedTime(t *testing.T) {
	s, err := New(Options{Speed: 4})
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	for _, c := range []struct {
		name      string
		got, want time.Duration
	}{
		{"pace", s.Pace, d.Pace / 4},
		{"interrupt-at", s.InterruptAt, d.InterruptAt / 4},
		{"afterthought-at", s.AfterthoughtAt, d.AfterthoughtAt / 4},
		{"goodbye-at", s.GoodbyeAt, d.GoodbyeAt / 4},
	} {
		if c.got != c.want {
			t.Errorf("%s at speed 4: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestLaterTimesFollowTheStory(t *testing.T) {
	s, err := New(Options{Pace: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if s.AfterthoughtAt != 2500*time.Millisecond+DefaultAfterthoughtDelay || s.GoodbyeAt != s.AfterthoughtAt+DefaultGoodbyeDelay {
		t.Errorf("at pace 500ms: afterthought at %v, goodbye at %v", s.AfterthoughtAt, s.GoodbyeAt)
	}
}

func TestSlowStoryInterruptsLater(t *testing.T) {
	s, err := New(Options{Pace: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if s.InterruptAt != 1200*time.Millisecond {
		t.Errorf("at pace 500ms: interrupt at %v, want 1.2s (just after the third sentence)", s.InterruptAt)
	}
}

func TestShortStoryInterruptsHalfway(t *testing.T) {
	s, err := New(Options{Sentences: 2})
	if err != nil {
		t.Fatal(err)
	}
	if s.InterruptAt != 125*time.Millisecond {
		t.Errorf("two sentences 250ms apart: interrupt at %v, want 125ms", s.InterruptAt)
	}
}

func TestInvalidOptions(t *testing.T) {
	for _, c := range []struct {
		opts   Options
		option string
	}{
		{Options{Sentences: 1}, "sentences"},
		{Options{Sentences: MaxSentences + 1}, "sentences"},
		{Options{Pace: -time.Second}, "pace"},
		{Options{Speed: -1}, "speed"},
		{Options{Speed: MaxSpeed + 1}, "speed"},
		{Options{Speed: 0.001}, "speed"},
		{Options{Pace: MaxPace, Speed: 0.5}, "speed"},
		{Options{InterruptAt: 2 * time.Second}, "interrupt-at"},
		{Options{Pace: MaxPace + time.Second}, "pace"},
		{Options{GoodbyeAt: MaxScriptTime + time.Second}, "goodbye-at"},
		{Options{InterruptAt: -time.Second}, "interrupt-at"},
		{Options{AfterthoughtAt: time.Second}, "afterthought-at"},
		{Options{GoodbyeAt: 1900 * time.Millisecond}, "goodbye-at"},
	} {
		_, err := New(c.opts)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != c.option {
			t.Errorf("New(%+v): got %v, want an OptionError for %s", c.opts, err, c.option)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || oe.Want == "" {
			t.Errorf("New(%+v): error %q should be one line saying what is accepted", c.opts, msg)
		}
	}
}

func TestLabel(t *testing.T) {
	s := Default()
	for text, want := range map[string]string{s.Question: LabelQuestion, s.Interruption: LabelInterruption, s.Goodbye: LabelGoodbye} {
		if got, ok := s.Label(text); !ok || got != want {
			t.Errorf("Label(%q) = %q, %v; want %q", text, got, ok, want)
		}
	}
	if _, ok := s.Label("hello?"); ok {
		t.Error("Label of a line that is not in the script: got ok")
	}
}

func TestProgress(t *testing.T) {
	p := NewProgress(Default())
	p.Heard(LabelAnswer)
	select {
	case <-p.Reached(StoryBegun):
		t.Fatal("begun before any sentence")
	default:
	}
	for range DefaultSentences - 1 {
		p.Heard(LabelStory)
	}
	select {
	case <-p.Reached(StoryEnded):
		t.Fatal("ended before the last sentence")
	default:
	}
	p.Heard(LabelStory)
	<-p.Reached(StoryBegun)
	<-p.Reached(StoryEnded)
	p.Heard(LabelStory) // a story told again closes nothing twice
}

// TestUrgent: the interruption, and only it, is urgent.
func TestUrgent(t *testing.T) {
	s := Default()
	for _, c := range s.Cues() {
		if got, want := s.Urgent(c.Label), c.Label == LabelInterruption; got != want {
			t.Errorf("Urgent(%q) = %v, want %v", c.Label, got, want)
		}
	}
}
