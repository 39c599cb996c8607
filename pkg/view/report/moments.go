package report

// MomentMeasure is one of the four numbers that tell the modes apart most
// plainly: how long the interruption and the afterthought each waited to
// be said, and how long after being wanted each was heard. Compare's rows,
// the class experiment's distributions, its CSV and the teacher's view all
// take them from MomentMeasures.
type MomentMeasure struct {
	// Key names it in JSON and CSV: "interruption_waited_ms".
	Key string
	// Title names it for people: "interruption waited".
	Title string
	// Caption says it in a sentence, for a figure: "Interruption: waited
	// to be sent".
	Caption string
	// Line is the line it is about: "interruption" or "afterthought".
	Line string
	// Get returns the call's value, in ms, or nil when it did not happen.
	Get func(Call) *float64
}

// MomentMeasures returns the four, in the order they are shown.
func MomentMeasures() []MomentMeasure {
	return []MomentMeasure{
		{"interruption_waited_ms", "interruption waited", "Interruption: waited to be sent", "interruption", func(c Call) *float64 { return c.Summary.Interruption.WaitedMS }},
		{"interruption_heard_after_ms", "interruption heard after", "Interruption: heard by grandma after", "interruption", func(c Call) *float64 { return c.Summary.Interruption.HeardAfterMS }},
		{"afterthought_waited_ms", "afterthought waited", "Afterthought: waited to be sent", "afterthought", func(c Call) *float64 { return c.Summary.Afterthought.WaitedMS }},
		{"afterthought_heard_after_ms", "afterthought heard after", "Afterthought: heard by the grandchild after", "afterthought", func(c Call) *float64 { return c.Summary.Afterthought.HeardAfterMS }},
	}
}
