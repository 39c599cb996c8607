// Package story is the script both modes play: a grandchild calls grandma,
// asks about her childhood, interrupts her story, hears an afterthought and
// says goodbye. It holds the lines and the times at which each side *wants*
// to say them; when they can actually be said is up to the transport.
package story

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// Labels name each line's part in the conversation. They are the labels of
// the messages recorded on the timeline.
const (
	LabelQuestion     = "question"
	LabelStory        = "story"
	LabelInterruption = "interruption"
	LabelAnswer       = "answer"
	LabelAfterthought = "afterthought"
	LabelGoodbye      = "goodbye"
	LabelFarewell     = "farewell"
	// LabelPhoto is the photo the grandchild sends just before the
	// interruption (Options.Photo).
	LabelPhoto = "photo"
)

// The lines of the conversation.
const (
	Question     = "Grandma, what was it like growing up in the countryside?"
	Interruption = "Wait, was that before or after the war?"
	Answer       = "Before the war, dear, and all through it too."
	Afterthought = "Oh! I forgot to tell you about the county fair."
	Goodbye      = "Goodbye, Grandma! I love you."
	Farewell     = "Goodbye, sweetheart. Call me again soon."
)

// sentences returns grandma's whole story; a Script tells the first
// Options.Sentences of them.
func sentences() []string {
	return []string{
		"We lived on a little farm at the end of a dirt road, three miles from town.",
		"Money was scarce in the Depression, and then the war came along.",
		"Before school I milked the cows, and in winter the pail froze to my fingers.",
		"Your great-grandfather was away at the war for almost four years.",
		"Mother ran the farm by herself, and we children did the work of grown men.",
		"When he finally came home, half the county met his train at the station.",
		"The next spring the power lines reached our road, and we had electric light.",
		"Dad bought a radio, and the neighbours came over to hear the news with us.",
		"On Saturday nights there was a dance in the grange hall, with a fiddle band.",
		"That is where I met your grandpa; he stepped on my feet all evening.",
	}
}

// MaxSentences is how many sentences grandma's story has in all.
const MaxSentences = 10

// Defaults of Options.
const (
	DefaultSentences   = 6
	DefaultPace        = 250 * time.Millisecond
	DefaultInterruptAt = 600 * time.Millisecond
	// defaultInterruptPaces places the default interruption in sentences:
	// just after the third is due, which at the default pace is
	// DefaultInterruptAt. A slower story is interrupted later.
	defaultInterruptPaces = 2.4
	// DefaultAfterthoughtDelay is how long after the story's last sentence is
	// due grandma remembers the county fair, unless told otherwise.
	DefaultAfterthoughtDelay = 750 * time.Millisecond
	// DefaultGoodbyeDelay is how long after the afterthought the grandchild
	// says goodbye, unless told otherwise.
	DefaultGoodbyeDelay = 600 * time.Millisecond
	// MaxSpeed bounds Options.Speed: faster than this, the scripted times
	// shrink below what a busy machine schedules reliably.
	MaxSpeed = 100
	// MaxPace bounds Options.Pace, and MaxScriptTime the other times: a call
	// is a demonstration, over in seconds, not something to wait minutes for.
	MaxPace       = 5 * time.Second
	MaxScriptTime = 2 * time.Minute
	// MinPace bounds the pace from below, after Speed: faster, the whole
	// story is told in less time than the timeline tells apart from noise,
	// and no wait would show.
	MinPace = time.Millisecond
	// MaxPhoto bounds Options.Photo, in bytes (2 MB, decimal as --photo
	// writes it): big enough to hold a slow link busy for seconds, small
	// enough for a demonstration.
	MaxPhoto = 2_000_000
)

// Options choose the script's shape and timing, before Speed scales it.
// The zero value of a field means its default.
type Options struct {
	// Sentences is how many sentences the story has (2 to MaxSentences).
	Sentences int
	// Pace is the time between two sentences.
	Pace time.Duration
	// InterruptAt is when the grandchild wants to interrupt; it must fall
	// inside the story. Zero means just after the third sentence is due
	// (DefaultInterruptAt at the default pace), or halfway through a story
	// shorter than that.
	InterruptAt time.Duration
	// AfterthoughtAt is when grandma remembers the county fair; it must come
	// after the story. Zero means DefaultAfterthoughtDelay after the story.
	AfterthoughtAt time.Duration
	// GoodbyeAt is when the grandchild says goodbye; it must come after the
	// afterthought. Zero means DefaultGoodbyeDelay after the afterthought.
	GoodbyeAt time.Duration
	// Speed divides every scripted time: 2 plays the script twice as fast.
	Speed float64
	// Photo is the size in bytes of a photo the grandchild sends grandma
	// just before the interruption (0 to MaxPhoto; 0 means none).
	Photo int
}

// OptionError says which option was wrong, and what would be right. Its
// Option is named as the command-line flag that sets it.
type OptionError struct {
	Option string // "pace", "interrupt-at", ...
	Value  string
	Want   string
}

// Error returns a one-line description.
func (e *OptionError) Error() string {
	return fmt.Sprintf("invalid %s %s: %s", e.Option, e.Value, e.Want)
}

// Script is a validated script, with Speed already applied. Times are on the
// call's clock, which starts when the grandchild wants to ask the question.
type Script struct {
	Question     string
	Story        []string
	Interruption string
	Answer       string
	Afterthought string
	Goodbye      string
	Farewell     string
	// Photo is the photo the grandchild sends just before the
	// interruption, as one line of base64 text, or "" for none.
	Photo string

	// Pace is the time between two sentences of the story.
	Pace time.Duration
	// InterruptAt, AfterthoughtAt and GoodbyeAt are when the interruption,
	// the afterthought and the goodbye are wanted.
	InterruptAt    time.Duration
	AfterthoughtAt time.Duration
	GoodbyeAt      time.Duration
}

// New validates o and returns the script it describes.
func New(o Options) (Script, error) {
	if o.Sentences == 0 {
		o.Sentences = DefaultSentences
	}
	if o.Pace == 0 {
		o.Pace = DefaultPace
	}
	if o.Speed == 0 {
		o.Speed = 1
	}
	if o.Sentences < 2 || o.Sentences > MaxSentences {
		return Script{}, &OptionError{"sentences", fmt.Sprint(o.Sentences), fmt.Sprintf("grandma's story has 2 to %d sentences", MaxSentences)}
	}
	if o.Pace < 0 || o.Pace > MaxPace {
		return Script{}, &OptionError{"pace", o.Pace.String(), fmt.Sprintf("must be more than 0 and at most %v, such as 250ms", MaxPace)}
	}
	for _, t := range []struct {
		option string
		at     time.Duration
	}{{"interrupt-at", o.InterruptAt}, {"afterthought-at", o.AfterthoughtAt}, {"goodbye-at", o.GoodbyeAt}} {
		if t.at > MaxScriptTime {
			return Script{}, &OptionError{t.option, t.at.String(), fmt.Sprintf("must be at most %v", MaxScriptTime)}
		}
	}
	if math.IsNaN(o.Speed) || o.Speed <= 0 || o.Speed > MaxSpeed {
		return Script{}, &OptionError{"speed", fmt.Sprint(o.Speed), fmt.Sprintf("must be a number above 0 and at most %d, such as 2 for twice as fast", MaxSpeed)}
	}
	storyEnd := time.Duration(o.Sentences-1) * o.Pace
	if o.InterruptAt == 0 {
		o.InterruptAt = time.Duration(defaultInterruptPaces * float64(o.Pace))
		if o.InterruptAt >= storyEnd {
			o.InterruptAt = storyEnd / 2 // a short story: interrupt halfway
		}
	}
	if o.InterruptAt < 0 || o.InterruptAt >= storyEnd {
		return Script{}, &OptionError{"interrupt-at", o.InterruptAt.String(),
			fmt.Sprintf("must fall while grandma tells her story, after 0s and before %v (%d sentences every %v)", storyEnd, o.Sentences, o.Pace)}
	}
	if o.AfterthoughtAt == 0 {
		o.AfterthoughtAt = storyEnd + DefaultAfterthoughtDelay
	}
	if o.AfterthoughtAt <= storyEnd {
		return Script{}, &OptionError{"afterthought-at", o.AfterthoughtAt.String(),
			fmt.Sprintf("must come after the story ends at %v, such as %v", storyEnd, storyEnd+DefaultAfterthoughtDelay)}
	}
	if o.GoodbyeAt == 0 {
		o.GoodbyeAt = o.AfterthoughtAt + DefaultGoodbyeDelay
	}
	if o.GoodbyeAt <= o.AfterthoughtAt {
		return Script{}, &OptionError{"goodbye-at", o.GoodbyeAt.String(),
			fmt.Sprintf("must come after the afterthought at %v, such as %v", o.AfterthoughtAt, o.AfterthoughtAt+DefaultGoodbyeDelay)}
	}
	if o.Photo < 0 || o.Photo > MaxPhoto {
		return Script{}, &OptionError{"photo", PhotoSize(o.Photo), fmt.Sprintf("must be from 1B to %s, or 0 for none, such as 200KB", PhotoSize(MaxPhoto))}
	}
	scale := func(d time.Duration) time.Duration { return time.Duration(float64(d) / o.Speed) }
	if p := scale(o.Pace); p < MinPace {
		return Script{}, &OptionError{"pace", o.Pace.String(),
			fmt.Sprintf("a sentence every %v (after --speed %v) tells the whole story before anyone could interrupt it, and nothing would wait; use at least %v", p, o.Speed, time.Duration(float64(MinPace)*o.Speed))}
	}
	if goodbye := scale(o.GoodbyeAt); goodbye > MaxScriptTime || scale(o.Pace) > MaxPace {
		slowest := max(float64(o.GoodbyeAt)/float64(MaxScriptTime), float64(o.Pace)/float64(MaxPace))
		return Script{}, &OptionError{"speed", fmt.Sprint(o.Speed),
			fmt.Sprintf("would stretch the call past %v or a sentence past %v; use a speed of at least %.2g", MaxScriptTime, MaxPace, slowest)}
	}
	return Script{
		Question:       Question,
		Story:          sentences()[:o.Sentences],
		Interruption:   Interruption,
		Answer:         Answer,
		Afterthought:   Afterthought,
		Goodbye:        Goodbye,
		Farewell:       Farewell,
		Photo:          photo(o.Photo),
		Pace:           scale(o.Pace),
		InterruptAt:    scale(o.InterruptAt),
		AfterthoughtAt: scale(o.AfterthoughtAt),
		GoodbyeAt:      scale(o.GoodbyeAt),
	}, nil
}

// Default returns the script with every option at its default.
func Default() Script {
	s, err := New(Options{})
	if err != nil {
		panic("story: the default options are invalid: " + err.Error()) // a bug, not bad input
	}
	return s
}

// photo returns size bytes of base64 text, random but the same for the
// same size, so that a call replays and its record compares; "" for 0.
func photo(size int) string {
	if size <= 0 {
		return ""
	}
	r := rand.New(rand.NewPCG(uint64(size), 0x70686f746f)) // "photo"
	raw := make([]byte, base64.StdEncoding.DecodedLen(size)+3)
	for i := range raw {
		raw[i] = byte(r.Uint32())
	}
	return base64.StdEncoding.EncodeToString(raw)[:size]
}

// PhotoText returns the short text that stands for a photo of size bytes
// on the timeline and in every view, such as "[a photo, 200KB]": its size
// in decimal units, as --photo takes it.
func PhotoText(size int) string {
	return "[a photo, " + PhotoSize(size) + "]"
}

// PhotoSize writes size bytes as --photo takes it, in the largest decimal
// unit that keeps a number of at least 1: "200KB", "1.5MB", "512B".
func PhotoSize(size int) string {
	for _, u := range []struct {
		name string
		size int
	}{{"MB", 1_000_000}, {"KB", 1000}} {
		if size >= u.size {
			return strconv.FormatFloat(float64(size)/float64(u.size), 'f', -1, 64) + u.name
		}
	}
	return strconv.Itoa(size) + "B"
}

// MaxGrandchildLine returns the largest line the grandchild may send, in
// bytes without its delimiter, given maxLine, the largest of any other
// line (call.MaxLine): the photo is bigger. Readers of her lines accept
// this much, as they accept maxLine without a photo.
func (s Script) MaxGrandchildLine(maxLine int) int {
	return max(maxLine, len(s.Photo))
}

// PhotoTime is the time the photo has to cross the link, 0 without one:
// from the interruption, which it comes just before, to the goodbye. A
// call refuses a photo its link cannot carry in that time, so whoever
// waits for what comes behind the photo waits this long more at most.
func (s Script) PhotoTime() time.Duration {
	if s.Photo == "" {
		return 0
	}
	return s.GoodbyeAt - s.InterruptAt
}

// IsPhoto says whether text is the script's photo, comparing its length
// first, which is cheap.
func (s Script) IsPhoto(text string) bool {
	return s.Photo != "" && len(text) == len(s.Photo) && text == s.Photo
}

// Label returns the label of a line the grandchild says, as grandma hears it,
// and whether it is one of the grandchild's lines.
func (s Script) Label(text string) (string, bool) {
	if s.IsPhoto(text) {
		return LabelPhoto, true
	}
	switch text {
	case s.Question:
		return LabelQuestion, true
	case s.Interruption:
		return LabelInterruption, true
	case s.Goodbye:
		return LabelGoodbye, true
	}
	return "", false
}

// LineLabel returns the label of any line of the script, either side's,
// and whether text is one.
func (s Script) LineLabel(text string) (string, bool) {
	if label, ok := s.Label(text); ok {
		return label, true
	}
	switch text {
	case s.Answer:
		return LabelAnswer, true
	case s.Afterthought:
		return LabelAfterthought, true
	case s.Farewell:
		return LabelFarewell, true
	}
	for _, sentence := range s.Story {
		if text == sentence {
			return LabelStory, true
		}
	}
	return "", false
}

// Milestone is how far the grandchild must have heard grandma's story
// before she says a line.
type Milestone string

const (
	// Anytime: the line waits for nothing she hears.
	Anytime Milestone = ""
	// StoryBegun: she has heard the story's first sentence.
	StoryBegun Milestone = "story_begun"
	// StoryEnded: she has heard its last.
	StoryEnded Milestone = "story_ended"
)

// Cue is one of the grandchild's lines and when she says it: she wants to
// at At on the call's clock, but never before she has heard the story reach
// After, however slow the link makes it.
type Cue struct {
	Label string
	Text  string
	At    time.Duration
	After Milestone
}

// Cues returns the grandchild's schedule, in the order she says her lines:
// the question at once, the interruption once the story has begun, the
// goodbye once it has ended. Each line goes out after the one before it:
// every transport keeps this order, and the classroom page plays the same
// schedule (served as /script.json).
func (s Script) Cues() []Cue {
	cues := []Cue{{LabelQuestion, s.Question, 0, Anytime}}
	if s.Photo != "" {
		cues = append(cues, Cue{LabelPhoto, s.Photo, s.InterruptAt, StoryBegun})
	}
	return append(cues,
		Cue{LabelInterruption, s.Interruption, s.InterruptAt, StoryBegun},
		Cue{LabelGoodbye, s.Goodbye, s.GoodbyeAt, StoryEnded})
}

// Urgent says whether the line with label is one the script marks urgent:
// the grandchild must get it in whatever grandma is saying. A transport
// with independent streams on one connection (HTTP/2, WebTransport) sends
// an urgent line on a stream of its own, so that it does not queue behind
// the conversation's stream. The interruption is the one.
func (s Script) Urgent(label string) bool { return label == LabelInterruption }

// StoryEnd returns when, after grandma starts her story, its last sentence
// is due.
func (s Script) StoryEnd() time.Duration {
	return time.Duration(len(s.Story)-1) * s.Pace
}
