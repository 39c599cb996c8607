package class

import (
	"fmt"
	"slices"
	"strings"

	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/view/report"
)

// Stats sets out an experiment's calls by mode: for each, how many calls,
// and the distribution of each of report.MomentMeasures.
type Stats struct {
	Experiment Experiment `json:"experiment"`
	// Calls counts every call, of every mode.
	Calls int         `json:"calls"`
	Modes []ModeStats `json:"modes"`
}

// ModeStats is one mode's calls: those on one connection, or those on
// more. A browser's walkie call opens a second connection to get a word
// in (a workaround from before WebSocket), and its interruption then need
// not wait: set apart, neither hides the other.
type ModeStats struct {
	// Group names the group among the others: the mode's key, with
	// "+connections" for calls on more than one connection.
	Group string `json:"group"`
	Mode  string `json:"mode"`
	// Name is the group in words: "the walkie-talkie", or "the
	// walkie-talkie, on more than one connection".
	Name string `json:"name"`
	// Connections is 1 for calls on one connection, 2 for those on two or
	// more.
	Connections int `json:"connections"`
	// Variant says how the group's script differs from the class's (""
	// the same, "at 4x speed"): calls on other scripts are apart too.
	Variant  string `json:"variant,omitempty"`
	Calls    int    `json:"calls"`
	Measures []Dist `json:"measures"`
}

// MoreConnections is what a group's key and name add for the calls of a
// mode that took more than one connection.
const (
	MoreConnections     = "+connections"
	MoreConnectionsName = ", on more than one connection"
)

// Dist is the distribution of one measure over one mode's calls.
type Dist struct {
	Key   string `json:"key"`
	Title string `json:"title"`
	// Caption says it in a sentence, for a figure.
	Caption string `json:"caption"`
	// Line is the line it is about: "interruption" or "afterthought".
	Line string `json:"line"`
	// Values are the calls' values, in ms, smallest first: one per call
	// in which it happened.
	Values []float64 `json:"values"`
	// Never counts the calls in which it did not happen (a line never
	// said, or never heard).
	Never int `json:"never"`
	// Median is the middle value (the mean of the two middle ones for an
	// even count); Min and Max the ends. nil with no values.
	Median *float64 `json:"median"`
	Min    *float64 `json:"min"`
	Max    *float64 `json:"max"`
}

// Summarize sets out calls by mode, those of a mode on more than one
// connection apart. The modes in order come first, in that order, even
// with no calls (the modes the class is asked to play); any other group
// follows, in the order its first call came.
func Summarize(exp Experiment, calls []Call, order []result.Mode) Stats {
	st := Stats{Experiment: exp, Calls: len(calls), Modes: []ModeStats{}}
	index := map[string]int{}
	add := func(key, name string, more bool, variant string) *ModeStats {
		group, name := groupOf(key, name, more, variant)
		conns := 1
		if more {
			conns = 2
		}
		if i, ok := index[group]; ok {
			return &st.Modes[i]
		}
		index[group] = len(st.Modes)
		ms := ModeStats{Group: group, Mode: key, Name: name, Connections: conns, Variant: variant}
		for _, m := range report.MomentMeasures() {
			ms.Measures = append(ms.Measures, Dist{Key: m.Key, Title: m.Title, Caption: m.Caption, Line: m.Line, Values: []float64{}})
		}
		st.Modes = append(st.Modes, ms)
		return &st.Modes[len(st.Modes)-1]
	}
	for _, m := range order {
		add(m.Key, m.Name, false, "")
	}
	measures := report.MomentMeasures()
	for _, c := range calls {
		more := c.Summary.Connections > 1
		ms := add(c.Mode, c.Name, more, c.Variant)
		if ms.Name == "" { // a mode asked for without its name: its first call's
			_, ms.Name = groupOf(c.Mode, c.Name, more, c.Variant)
		}
		ms.Calls++
		for i, m := range measures {
			d := &ms.Measures[i]
			if v := m.Get(c.Call); v != nil {
				d.Values = append(d.Values, *v)
			} else {
				d.Never++
			}
		}
	}
	for i := range st.Modes {
		for j := range st.Modes[i].Measures {
			st.Modes[i].Measures[j].finish()
		}
	}
	return st
}

// groupOf returns the key and the words of the group of a mode's calls on
// more than one connection or not, on a variant of the class's script or
// not: "walkie+connections", "the walkie-talkie, on more than one
// connection". Without the mode's name, the words are empty.
func groupOf(key, name string, more bool, variant string) (group, words string) {
	group, words = key, name
	if more {
		group, words = group+MoreConnections, words+MoreConnectionsName
	}
	if variant != "" {
		group, words = group+" "+variant, words+", "+variant
	}
	if name == "" {
		words = ""
	}
	return group, words
}

// finish sorts the values and works out the median and the ends.
func (d *Dist) finish() {
	slices.Sort(d.Values)
	n := len(d.Values)
	if n == 0 {
		return
	}
	med := d.Values[n/2]
	if n%2 == 0 {
		med = (d.Values[n/2-1] + d.Values[n/2]) / 2
	}
	lo, hi := d.Values[0], d.Values[n-1]
	d.Median, d.Min, d.Max = &med, &lo, &hi
}

// Measure returns the group's distribution of the measure with key.
func (m ModeStats) Measure(key string) (Dist, bool) {
	for _, d := range m.Measures {
		if d.Key == key {
			return d, true
		}
	}
	return Dist{}, false
}

// TallyMeasure is the measure the one-line tally gives: the lesson's
// number, how long after she wanted it grandma heard the interruption.
const TallyMeasure = "interruption_heard_after_ms"

// Tally says the experiment in one line, for the teacher's terminal:
// "experiment 1: 23 calls | walkie 12, interruption heard after 812 ms
// (median) | phone 11, 41 ms". It is plain ASCII.
func (s Stats) Tally() string {
	var b strings.Builder
	calls := "calls"
	if s.Calls == 1 {
		calls = "call"
	}
	fmt.Fprintf(&b, "experiment %d: %d %s", s.Experiment.Number, s.Calls, calls)
	first := true
	for _, m := range s.Modes {
		if m.Calls == 0 {
			continue
		}
		label := m.Mode
		if m.Connections > 1 {
			label += " (more connections)"
		}
		if m.Variant != "" {
			label += " (" + m.Variant + ")"
		}
		fmt.Fprintf(&b, " | %s %d", label, m.Calls)
		d, _ := m.Measure(TallyMeasure)
		switch {
		case d.Median == nil:
			fmt.Fprintf(&b, ", %s never", d.Title)
		case first:
			fmt.Fprintf(&b, ", %s %s (median)", d.Title, result.MSText(*d.Median))
		default:
			fmt.Fprintf(&b, ", %s", result.MSText(*d.Median))
		}
		first = first && d.Median == nil
	}
	return b.String()
}
