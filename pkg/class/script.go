package class

import (
	"fmt"
	"math"
	"strconv"

	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
)

// Script is the timing of the script a call played, in ms: calls on
// different scripts are not one experiment (a student's --speed 4 plays
// everything four times faster), so each call keeps its own, and calls on
// a script other than the class's are set apart (Call.Variant).
type Script struct {
	Sentences        int     `json:"sentences"`
	PaceMS           float64 `json:"pace_ms"`
	InterruptAtMS    float64 `json:"interrupt_at_ms"`
	AfterthoughtAtMS float64 `json:"afterthought_at_ms"`
	GoodbyeAtMS      float64 `json:"goodbye_at_ms"`
	// PhotoBytes is the size of the grandchild's photo (--photo); 0 for
	// none. A photo changes what the interruption waits for.
	PhotoBytes int `json:"photo_bytes,omitempty"`
}

// ScriptOf returns a script's timing.
func ScriptOf(s story.Script) Script {
	return Script{Sentences: len(s.Story), PaceMS: result.MS(s.Pace), InterruptAtMS: result.MS(s.InterruptAt),
		AfterthoughtAtMS: result.MS(s.AfterthoughtAt), GoodbyeAtMS: result.MS(s.GoodbyeAt), PhotoBytes: len(s.Photo)}
}

// Variant says how s differs from the class's script, in a few words for a
// group's name and the tally: "" when it is the same, "at 4x speed" when
// every time is the class's divided by one factor, "on another script"
// otherwise, and "with a 200KB photo" (or "without the photo") when the
// photo differs, after a comma if the timing does too. It is plain ASCII.
func (s Script) Variant(class Script) string {
	var photo string
	switch {
	case s.PhotoBytes == class.PhotoBytes:
	case s.PhotoBytes > 0:
		photo = "with a " + story.PhotoSize(s.PhotoBytes) + " photo"
	default:
		photo = "without the photo"
	}
	s.PhotoBytes, class.PhotoBytes = 0, 0
	timing := s.timingVariant(class)
	if timing != "" && photo != "" {
		return timing + ", " + photo
	}
	return timing + photo
}

// timingVariant is Variant for the script's times alone.
func (s Script) timingVariant(class Script) string {
	if s == class {
		return ""
	}
	if s.Sentences == class.Sentences && s.PaceMS > 0 {
		k := class.PaceMS / s.PaceMS
		same := func(mine, theirs float64) bool { return math.Abs(mine*k-theirs) <= 0.01*theirs+0.01 }
		if same(s.InterruptAtMS, class.InterruptAtMS) && same(s.AfterthoughtAtMS, class.AfterthoughtAtMS) && same(s.GoodbyeAtMS, class.GoodbyeAtMS) {
			return "at " + strconv.FormatFloat(math.Round(k*100)/100, 'f', -1, 64) + "x speed"
		}
	}
	return fmt.Sprintf("on another script (pace %s)", result.MSText(s.PaceMS))
}
