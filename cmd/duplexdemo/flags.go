package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/link"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/view/render"
)

// maxWidth bounds --width; wider than this nobody can read a line.
const maxWidth = 400

// callOptions are the flags every mode shares.
type callOptions struct {
	// Story is the script's shape and timing (--sentences, --pace, ...).
	Story story.Options
	// Latency is the emulated link's one-way delay (--latency).
	Latency time.Duration
	// Bandwidth, Jitter and Seed are the rest of the link (--bandwidth,
	// --jitter, --seed); Seed is drawn at random unless given.
	Bandwidth link.Rate
	Jitter    time.Duration
	Seed      uint64
	// JSON prints the report as JSON and nothing else (--json).
	JSON bool
	// Color is auto, always or never (--color).
	Color string
	// ASCII draws without Unicode (--ascii).
	ASCII bool
	// Width is the columns to fit; 0 means the terminal's, or 80 (--width).
	Width int
	// Server is a grandma elsewhere to call (--server), for a mode that
	// can call one; empty plays both sides here.
	Server string
	// Student is the anonymous name a call to a grandma elsewhere is
	// reported to her class under (--student); empty means a new one.
	Student string
	// Every is how often to poll (--every), for a mode that polls.
	Every time.Duration
	// Export names the files to write the call to (--trace-out, --mermaid,
	// --html); the walkthrough has none.
	Export exportOptions
}

// defaultLatency is the emulated link's one-way delay unless told otherwise.
const defaultLatency = 40 * time.Millisecond

// addCallFlags registers the shared flags on fs.
func addCallFlags(fs *pflag.FlagSet, o *callOptions) {
	o.Latency = defaultLatency
	o.Story = story.Options{Sentences: story.DefaultSentences, Pace: story.DefaultPace, Speed: 1}
	fs.Var(&durationValue{p: &o.Latency, allowZero: true, max: call.MaxLatency}, "latency", fmt.Sprintf("one-way delay of the emulated link, each direction (0 = plain loopback, at most %v)", call.MaxLatency))
	fs.Var(&rateValue{&o.Bandwidth}, "bandwidth", fmt.Sprintf("the link's rate each way, such as 1Mbit or 256kbit: bytes queue behind each other (%v to %v)", link.MinRate, link.MaxRate))
	fs.Var(&durationValue{p: &o.Jitter, allowZero: true, max: call.MaxJitter}, "jitter", fmt.Sprintf("the most extra delay each write takes, drawn at random, order kept (0 to %v)", call.MaxJitter))
	fs.Uint64Var(&o.Seed, "seed", 0, "seed of the jitter's draws: the same seed replays the same delays (default: a new one each run, printed)")
	fs.Var(&durationValue{p: &o.Story.Pace, allowZero: false, max: story.MaxPace}, "pace", fmt.Sprintf("time between two sentences of grandma's story (%v to %v, after --speed)", story.MinPace, story.MaxPace))
	fs.Var(&intValue{&o.Story.Sentences, 2, story.MaxSentences}, "sentences", fmt.Sprintf("sentences in grandma's story (2 to %d)", story.MaxSentences))
	fs.Var(&durationValue{p: &o.Story.InterruptAt, allowZero: false, max: story.MaxScriptTime}, "interrupt-at",
		fmt.Sprintf("when the grandchild wants to interrupt; inside the story (default just after the third sentence: %v at the default pace)", story.DefaultInterruptAt))
	fs.Var(&durationValue{p: &o.Story.AfterthoughtAt, allowZero: false, max: story.MaxScriptTime}, "afterthought-at", "when grandma remembers the county fair; after the story (default 750ms after it)")
	fs.Var(&durationValue{p: &o.Story.GoodbyeAt, allowZero: false, max: story.MaxScriptTime}, "goodbye-at", "when the grandchild says goodbye; after the afterthought (default 600ms after it)")
	fs.Var(&photoValue{&o.Story.Photo}, "photo", fmt.Sprintf("the grandchild sends grandma a photo of this size just before the interruption, such as 200KB (0 = none, at most %s)", story.PhotoSize(story.MaxPhoto)))
	fs.Var(&speedValue{&o.Story.Speed}, "speed", fmt.Sprintf("play every scripted time this many times faster, up to %d (the latency stays as set)", story.MaxSpeed))
	boolFlag(fs, &o.JSON, "json", "print one JSON object with every event, span and number, and nothing else")
	o.Color = "auto"
	choiceFlag(fs, &choiceValue{&o.Color, []string{"auto", "always", "never"}}, "color", "colour: auto (on a terminal), always or never; NO_COLOR in the environment always wins")
	boolFlag(fs, &o.ASCII, "ascii", "draw with plain ASCII, for terminals without Unicode")
	fs.Var(&intValue{&o.Width, render.MinWidth, maxWidth}, "width", fmt.Sprintf("columns to fit the picture to, %d to %d (default: the terminal's, or %d)", render.MinWidth, maxWidth, render.DefaultWidth))
}

// style works out how to draw for these streams.
func (o *callOptions) style(deps *env) render.Style {
	s := render.Style{ASCII: o.ASCII, Width: o.Width}
	if s.Width == 0 {
		s.Width = render.DefaultWidth
		if deps.IsTerminal && deps.TerminalWidth > 0 {
			s.Width = max(min(deps.TerminalWidth, maxWidth), render.MinWidth)
		}
	}
	noColor := deps.Getenv != nil && deps.Getenv("NO_COLOR") != ""
	s.Color = !noColor && (o.Color == "always" || (o.Color == "auto" && deps.IsTerminal))
	return s
}

// durationValue is a duration flag that says what it accepts.
type durationValue struct {
	p         *time.Duration
	allowZero bool
	max       time.Duration
	min       time.Duration // 0: any duration above 0 (or 0 itself, with allowZero)
}

// String returns the duration; "0" for none, which help leaves unsaid.
func (v *durationValue) String() string {
	if *v.p == 0 {
		return "0"
	}
	return v.p.String()
}
func (v *durationValue) Type() string { return "duration" }
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		if v.allowZero {
			return fmt.Errorf("want a duration such as 40ms, 1.5s or 0")
		}
		return fmt.Errorf("want a duration such as 250ms or 1.5s")
	}
	if v.min > 0 && (d < v.min || d > v.max) {
		return fmt.Errorf("want a duration from %v to %v", v.min, v.max)
	}
	if d < 0 || (d == 0 && !v.allowZero) || d > v.max {
		if v.allowZero {
			return fmt.Errorf("want a duration from 0 (none) to %v", v.max)
		}
		return fmt.Errorf("want a duration above 0 and at most %v, such as 250ms", v.max)
	}
	*v.p = d
	return nil
}

// intValue is an integer flag with bounds.
type intValue struct {
	p        *int
	min, max int
}

func (v *intValue) String() string { return strconv.Itoa(*v.p) }
func (v *intValue) Type() string   { return "int" }
func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < v.min || n > v.max {
		return fmt.Errorf("want a whole number from %d to %d", v.min, v.max)
	}
	*v.p = n
	return nil
}

// speedValue is the --speed factor.
type speedValue struct{ p *float64 }

func (v *speedValue) String() string { return strconv.FormatFloat(*v.p, 'g', -1, 64) }
func (v *speedValue) Type() string   { return "factor" }
func (v *speedValue) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f > 0 && f <= story.MaxSpeed) {
		return fmt.Errorf("want a number above 0 and at most %d, such as 2 for twice as fast or 0.5 for half", story.MaxSpeed)
	}
	*v.p = f
	return nil
}

// boolValue is a switch: given alone it is on; given a value, it takes
// true or false and says so in plain words when it is neither.
type boolValue struct{ p *bool }

func (v *boolValue) String() string   { return strconv.FormatBool(*v.p) }
func (v *boolValue) Type() string     { return "bool" }
func (v *boolValue) IsBoolFlag() bool { return true }
func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("want true or false, or the flag alone for true")
	}
	*v.p = b
	return nil
}

// boolFlag registers a switch, off unless given.
func boolFlag(fs *pflag.FlagSet, p *bool, name, usage string) {
	fs.Var(&boolValue{p}, name, usage)
	fs.Lookup(name).NoOptDefVal = "true"
}

// choiceFlag registers a flag that takes one of a few words, and offers
// them to shell completion.
func choiceFlag(fs *pflag.FlagSet, v *choiceValue, name, usage string) {
	fs.Var(v, name, usage)
	_ = fs.SetAnnotation(name, choicesAnnotation, v.choices)
}

// choicesAnnotation marks a flag's choices, for shell completion (see
// completeChoices).
const choicesAnnotation = "duplexdemo_choices"

// completeChoices offers each choice flag's words to shell completion.
func completeChoices(cmd *cobra.Command) {
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		choices, ok := f.Annotations[choicesAnnotation]
		if !ok {
			return
		}
		_ = cmd.RegisterFlagCompletionFunc(f.Name, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return choices, cobra.ShellCompDirectiveNoFileComp
		})
	})
	for _, c := range cmd.Commands() {
		completeChoices(c)
	}
}

// choiceValue is a flag that takes one of a few words.
type choiceValue struct {
	p       *string
	choices []string
}

func (v *choiceValue) String() string { return *v.p }
func (v *choiceValue) Type() string   { return strings.Join(v.choices, "|") }
func (v *choiceValue) Set(s string) error {
	for _, c := range v.choices {
		if s == c {
			*v.p = s
			return nil
		}
	}
	return fmt.Errorf("want one of %s", strings.Join(v.choices, ", "))
}

// rateValue is a link's bandwidth flag: link.ParseRate's syntax.
type rateValue struct{ p *link.Rate }

func (v *rateValue) String() string {
	if *v.p == 0 {
		return "unlimited"
	}
	return v.p.String()
}

func (v *rateValue) Set(s string) error {
	r, err := link.ParseRate(s)
	if err != nil {
		var oe *story.OptionError
		if errors.As(err, &oe) {
			return errors.New(oe.Want)
		}
		return err
	}
	*v.p = r
	return nil
}

func (v *rateValue) Type() string { return "RATE" }

// photoValue is the photo's size flag: link.ParseSize's syntax, up to
// story.MaxPhoto.
type photoValue struct{ p *int }

func (v *photoValue) String() string {
	if *v.p == 0 {
		return "0"
	}
	return story.PhotoSize(*v.p)
}

func (v *photoValue) Set(s string) error {
	size, err := link.ParseSize(s)
	if err != nil {
		var oe *story.OptionError
		if errors.As(err, &oe) {
			return errors.New(oe.Want)
		}
		return err
	}
	if size > story.MaxPhoto {
		return fmt.Errorf("must be from 1B to %s, or 0 for none", story.PhotoSize(story.MaxPhoto))
	}
	*v.p = int(size)
	return nil
}

func (v *photoValue) Type() string { return "SIZE" }

// seed returns the jitter's seed: --seed, or a new one for a run without
// it, never 0, which the summary prints so that the run can be replayed.
func (o *callOptions) seed() uint64 {
	if o.Seed != 0 {
		return o.Seed
	}
	return 1 + rand.Uint64()%999_999
}

// photoCarried says, before anything is printed, why the photo cannot be
// sent in one of ms, if it cannot (call.CheckPhoto).
func photoCarried(ms []call.Mode, cfg call.Config) error {
	for _, m := range ms {
		if err := call.CheckPhoto(m, cfg); err != nil {
			return asUsage(err)
		}
	}
	return nil
}
