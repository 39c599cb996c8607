package screen

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"

	"github.com/duplexdemo/duplexdemo/pkg/lesson"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/view/render"
	"github.com/duplexdemo/duplexdemo/pkg/view/report"
)

// styles are the lipgloss styles of the screen, with colour only when the
// lesson's style has it.
type styles struct {
	title, bold, wait, dim, flash lipgloss.Style
	// glyphs in ASCII or not
	sep, ellipsis, next, back, up, down string
}

func newStyles(s render.Style) styles {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	if s.Color {
		r.SetColorProfile(termenv.ANSI)
	}
	st := styles{
		title: r.NewStyle().Bold(true).Reverse(s.Color),
		bold:  r.NewStyle().Bold(true),
		wait:  r.NewStyle().Bold(true).Foreground(lipgloss.Color("1")),
		dim:   r.NewStyle().Faint(true),
		flash: r.NewStyle().Bold(true).Foreground(lipgloss.Color("3")),
		sep:   "·", ellipsis: "…", next: "→", back: "←", up: "↑", down: "↓",
	}
	if s.ASCII {
		st.sep, st.ellipsis, st.next, st.back, st.up, st.down = "-", "...", "->", "<-", "up", "down"
	}
	return st
}

func (m *model) View() string {
	st := m.styles
	if m.w < MinWidth || m.h < MinHeight {
		return m.tooSmall()
	}
	switch m.overlay {
	case keysHelp:
		return m.keysView(st)
	case fullLog:
		return m.logView(st)
	}
	return strings.Join(m.layout(st), "\n")
}

// tooSmall says what size the lesson needs.
func (m *model) tooSmall() string {
	text := fmt.Sprintf("The lesson needs a terminal of at least %d columns and %d rows; this one is %d by %d. Make the window larger or the font smaller. Press q to quit.", MinWidth, MinHeight, m.w, m.h)
	return lesson.Wrap(text, max(m.w, 20))
}

// keysView lists the keys.
func (m *model) keysView(st styles) string {
	rows := [][2]string{
		{st.next + ", space or Enter", "next chapter (after the last, the end)"},
		{st.back + " or b", "back a chapter (its demo runs again)"},
		{"r", "run this chapter's demo again"},
		{"l", "the chapter's full log (" + st.up + " " + st.down + " PgUp PgDn scroll)"},
		{"?", "these keys"},
		{"q or Ctrl-C", "quit"},
	}
	if m.o.Predict {
		rows = append(rows, [2]string{"digits, then Enter", "the class's guess, before a demo that measures it"})
	}
	lines := []string{st.title.Render(pad(" Keys", m.width())), ""}
	for _, r := range rows {
		lines = append(lines, fmt.Sprintf("  %-22s %s", r[0], r[1]))
	}
	lines = append(lines, "")
	lines = append(lines, wrap("Keys pressed while a call runs are dropped, never kept for later.", m.width(), 2)...)
	lines = append(lines, "", "  Press any key to go back to the chapter.")
	return strings.Join(cut(lines, m.width()), "\n")
}

// logView shows the chapter's full text, as the plain lesson prints it,
// scrolled; while the demo runs, it follows the end as lines come.
func (m *model) logView(st styles) string {
	text := lines(m.log.String())
	page := max(m.h-2, 1)
	from := m.scroll
	if from == follow || from > len(text) {
		from = max(len(text)-page, 0)
	}
	end := min(from+page, len(text))
	live := ""
	if m.state == running {
		live = ", as it happens"
	}
	head := st.title.Render(pad(fmt.Sprintf(" Chapter %d of %d %s the full log%s, lines %d-%d of %d", m.n, len(m.o.Chapters), st.sep, live, min(from+1, end), end, len(text)), m.width()))
	out := append([]string{head}, text[from:end]...)
	for len(out) < m.h-1 {
		out = append(out, "")
	}
	out = append(out, st.dim.Render(fmt.Sprintf("%s %s PgUp PgDn: scroll   l or Esc: back to the chapter   q: quit", st.up, st.down)))
	return strings.Join(cut(out, m.width()), "\n")
}

// fit is how much of a chapter a layout shows, from the most to the least.
type fit struct {
	noLanes  bool // leave out the lanes of a chapter whose picture is its table
	full     bool // the whole explanation, not its brief
	table    int  // the comparison: 2 whole, 1 its key rows, 0 none
	callouts int  // most callout lines, -1 for all
	blanks   bool // blank lines between the parts
}

// fits are the layouts tried, richest first; the first that fits the
// terminal's height is used.
var fits = func() []fit {
	leaner := []fit{
		{full: true, table: 2, callouts: -1, blanks: true},
		{full: true, table: 1, callouts: -1, blanks: true},
		{full: true, table: 0, callouts: -1, blanks: true},
		{full: true, table: 0, callouts: 2, blanks: true},
		{full: false, table: 2, callouts: -1, blanks: true},
		{full: false, table: 1, callouts: -1, blanks: true},
		{full: false, table: 0, callouts: -1, blanks: true},
		{full: false, table: 0, callouts: 2, blanks: true},
		{full: false, table: 0, callouts: 2, blanks: false},
		{full: false, table: 0, callouts: 0, blanks: false},
	}
	// Then the same without the lanes, for a chapter whose picture is its
	// table; for any other, the lanes stay and these fit no better.
	out := append([]fit(nil), leaner...)
	for _, f := range leaner {
		f.noLanes = true
		out = append(out, f)
	}
	return out
}()

// layout lays out the chapter on the terminal: title and explanation at
// the top, the demo in the middle, what it measured at the bottom above
// the keys. It tries the layouts in fits, richest first, and cuts the
// middle of the last if even that is too tall.
func (m *model) layout(st styles) []string {
	var lines []string
	memo := memo{}
	shots := m.board.snapshots()
	from := m.fitFrom[m.n]
	for i, f := range fits[from:] {
		top, middle, bottom := m.parts(st, f, memo, shots)
		lines = stack(top, middle, bottom, m.h, f.blanks)
		if len(lines) <= m.h {
			// A chapter never grows back within one size of the
			// terminal: what the class reads stays where it is.
			m.fitFrom[m.n] = from + i
			break
		}
		if f == fits[len(fits)-1] {
			room := m.h - len(top) - len(bottom) - 1
			middle = append(middle[:max(room, 0)], st.dim.Render("  "+st.ellipsis+" more with l, the full log"))
			lines = stack(top, middle, bottom, m.h, false)
			lines = lines[:min(len(lines), m.h)]
		}
	}
	return cut(lines, m.width())
}

// stack puts top, middle and bottom on h rows: bottom on the last, middle
// under top, the rows between blank.
func stack(top, middle, bottom []string, h int, blanks bool) []string {
	out := append([]string(nil), top...)
	if blanks && len(middle) > 0 {
		out = append(out, "")
	}
	out = append(out, middle...)
	gap := h - len(out) - len(bottom)
	if blanks && gap < 1 && len(bottom) > 1 {
		gap = 1
	}
	for range gap {
		out = append(out, "")
	}
	return append(out, bottom...)
}

// memo keeps what one drawing of the screen has drawn so far, by name, so
// that trying one layout after another draws each piece once.
type memo map[string][]string

func (c memo) get(name string, draw func() []string) []string {
	if l, ok := c[name]; ok {
		return l
	}
	l := draw()
	c[name] = l
	return l
}

// parts returns the chapter's three parts as layout f shows them.
// shots are the calls on the board as they stand.
func (m *model) parts(st styles, f fit, memo memo, shots []snapshot) (top, middle, bottom []string) {
	w := m.width()
	p := m.page
	title := fmt.Sprintf(" Chapter %d of %d %s %s", p.Number, p.Of, st.sep, p.Title)
	top = append(top, st.title.Render(pad(title, w-len(" ? keys ")))+st.title.Render(" ? keys "))
	explain := p.Brief
	if f.full || explain == "" {
		explain = p.Explain
	}
	wrapped := lesson.Wrap(explain, w)
	if !f.blanks {
		wrapped = strings.ReplaceAll(wrapped, "\n\n", "\n")
	}
	top = append(top, lines(wrapped)...)
	if p.Question != "" {
		if f.blanks {
			top = append(top, "")
		}
		top = append(top, memo.get("question", func() []string { return wrap(st.bold.Render("Question:")+" "+p.Question, w, 0) })...)
		if m.state == asking {
			top = append(top, "", st.bold.Render("The class's guess: ")+m.guess+"_ ms")
		}
	}

	style := m.o.Teacher.Style
	style.Width = w
	switch m.state {
	case running:
		middle = append(middle, memo.get("lanes", func() []string { return m.liveLanes(shots, style) })...)
		c := callouts(shots, p.Moments, st, f.callouts, w)
		// Room for the moments still to come, two rows each, as they
		// usually take, so that nothing moves when they do.
		want := len(p.Moments) * len(shots)
		if f.callouts >= 0 {
			want = min(want, f.callouts)
		}
		for len(c) < 2*want {
			c = append(c, "")
		}
		middle = append(middle, c...)
	case done:
		if len(p.Lanes) > 0 && !(f.noLanes && p.TableFirst) {
			middle = append(middle, memo.get("lanes", func() []string {
				return drawn(func(out io.Writer) error { return render.Swimlanes(out, p.Lanes, p.Total, style) })
			})...)
		}
		middle = append(middle, callouts(shots, p.Moments, st, f.callouts, w)...)
		t, name := m.table(f, len(p.Lanes) == 0 || p.TableFirst)
		if t != nil {
			if len(middle) > 0 && f.blanks {
				middle = append(middle, "")
			}
			middle = append(middle, memo.get(name, func() []string {
				return drawn(func(out io.Writer) error { return render.Compare(out, *t, style) })
			})...)
		}
		if p.Table != nil && (t == nil || len(t.Measures) < len(p.Table.Measures)) {
			middle = append(middle, st.dim.Render("  The whole table: l, the full log."))
		}
		if p.Notes != "" {
			if len(middle) > 0 && f.blanks {
				middle = append(middle, "")
			}
			middle = append(middle, memo.get("notes", func() []string { return lines(lesson.Wrap(p.Notes, w)) })...)
		}
	case failed:
		middle = append(middle, wrap(st.wait.Render("The demo failed:")+" "+m.err.Error(), w, 0)...)
	}

	switch m.state {
	case done:
		bottom = append(bottom, st.bold.Render(p.Heading))
		bottom = append(bottom, memo.get("point", func() []string { return wrap(p.Point, w, 0) })...)
		if a := p.Answer; a != nil {
			bottom = append(bottom, memo.get("answer", func() []string {
				answer := st.bold.Render("Answer:") + " " + msText(a.MS)
				if g := m.guesses[m.n]; g != "" {
					answer += fmt.Sprintf(" (the class guessed %s ms)", g)
				}
				return wrap(answer+". "+a.Why, w, 0)
			})...)
		}
	case running:
		// Room for the conclusion to come, as tall as it was last time or
		// as it usually is, so that nothing moves when it arrives.
		rows, ok := m.bottoms[m.n]
		if !ok {
			rows = 5
			if p.Question != "" {
				rows += 4
			}
		}
		bottom = append(bottom, st.dim.Render("The numbers appear here when the call is over."))
		for len(bottom) < rows {
			bottom = append(bottom, "")
		}
	}
	if m.state == done {
		m.bottoms[m.n] = len(bottom)
	}
	return top, middle, append(bottom, m.keyBar(st))
}

// table returns the comparison to show under layout f, if any, and a name
// for it: a chapter whose picture it is (primary) shows at least its key
// rows.
func (m *model) table(f fit, primary bool) (*report.Table, string) {
	t := m.page.Table
	if t == nil {
		return nil, ""
	}
	switch {
	case f.table == 2:
		return t, "table"
	case (f.table == 1 || primary) && len(m.page.Key) > 0:
		k := t.Only(m.page.Key...)
		return &k, "key table"
	case primary:
		return t, "table"
	}
	return nil, ""
}

// keyBar is the last row: the keys that work now, or a word about the
// last key pressed.
func (m *model) keyBar(st styles) string {
	if m.flash != "" {
		return st.flash.Render(m.flash)
	}
	var keys []string
	switch m.state {
	case asking:
		keys = []string{"digits: the class's guess", "Enter: run the demo", st.back + ": back", "q: quit"}
	case running:
		keys = []string{"A call is running " + st.ellipsis, "l: its log", "?: keys", "q: quit"}
	default:
		next := "next"
		if m.n == len(m.o.Chapters) {
			next = "finish"
		}
		keys = []string{st.next + ": " + next, st.back + ": back"}
		if len(m.page.Calls) > 0 {
			keys = append(keys, "r: run again")
		}
		keys = append(keys, "l: full log", "?: keys", "q: quit")
	}
	bar := strings.Join(keys, "   ")
	if ansi.StringWidth(bar) > m.width() {
		bar = strings.Join(keys, "  ")
	}
	return bar
}

func (m *model) keyHint() string {
	return fmt.Sprintf("Keys: %s next, %s back, r again, l log, ? all keys, q quit.", m.styles.next, m.styles.back)
}

// liveLanes draws the calls on the board as they stand, on an axis as long
// as the script is expected to last, longer if it runs over: the lanes
// grow in place from left to right.
func (m *model) liveLanes(shots []snapshot, style render.Style) []string {
	if len(shots) == 0 {
		return nil
	}
	t := m.o.Teacher
	total := t.Script.GoodbyeAt + 4*t.Latency
	var now time.Duration
	var lanes []render.Lane
	for _, s := range shots {
		now = max(now, s.tl.Duration)
		spans := append(s.tl.Spans(), s.tl.Pending()...)
		for _, side := range []timeline.Side{timeline.Client, timeline.Server} {
			name := render.SideName(side)
			if len(shots) > 1 {
				name = s.mode.Key + " " + name
			}
			lanes = append(lanes, render.Lane{Name: name, Side: side, Spans: spans})
		}
	}
	return drawn(func(out io.Writer) error { return render.LiveSwimlanes(out, lanes, total, now, style) })
}

// callouts are the moments that matter, one line each: when the lines
// with labels (the interruption, the afterthought) were wanted, how long
// they waited and why, and when they were heard, in each call; wrapped to
// w, at most limit of them, all if it is -1.
func callouts(shots []snapshot, labels []string, st styles, limit, w int) []string {
	var out []string
	for _, label := range labels {
		for _, s := range shots {
			msg, ok := s.tl.Message(label)
			if !ok || msg.Text == "" {
				continue
			}
			name := label
			if len(shots) > 1 {
				name = s.mode.Key + " " + label
			}
			parts := []string{"wanted at " + dur(msg.WantedAt)}
			switch waited := s.tl.Duration - msg.WantedAt; {
			case !msg.Sent && waited >= timeline.Resolution:
				parts = append(parts, st.wait.Render(fmt.Sprintf("WAITS (%s), %s so far", msg.Reason, dur(waited))))
			case !msg.Sent:
			case msg.Waited() >= timeline.Resolution:
				parts = append(parts, st.wait.Render(fmt.Sprintf("WAITED %s (%s)", dur(msg.Waited()), msg.Reason)))
			default:
				parts = append(parts, "went at once")
			}
			if msg.Heard {
				// The difference of the times shown, so that the line adds up.
				after := msg.HeardAt.Round(time.Millisecond) - msg.WantedAt.Round(time.Millisecond)
				parts = append(parts, fmt.Sprintf("heard at %s, %s after", dur(msg.HeardAt), dur(after)))
			} else if msg.Sent {
				parts = append(parts, "on its way")
			}
			out = append(out, st.bold.Render(name)+": "+strings.Join(parts, ", "))
		}
	}
	if limit >= 0 && len(out) > limit {
		out = out[:limit]
	}
	var wrapped []string
	for _, c := range out {
		wrapped = append(wrapped, wrap(c, w, 2)...)
	}
	return wrapped
}

// wrap breaks text, which may be painted, into lines of at most w columns,
// indented by indent and their continuations by two more; the lesson's
// non-breaking spaces keep a number with its unit and print as spaces, and
// a hyphen never ends a line: ansi.Wordwrap would break "--bandwidth"
// after its dashes.
func wrap(text string, w, indent int) []string {
	text = strings.ReplaceAll(flow(text), "-", nbHyphen)
	out := lines(ansi.Wordwrap(text, w-indent-2, ""))
	if indent == 0 {
		out = lines(ansi.Wordwrap(text, w, ""))
	}
	for i, l := range out {
		l = strings.ReplaceAll(strings.ReplaceAll(l, "\u00a0", " "), nbHyphen, "-")
		switch {
		case i == 0:
			l = strings.Repeat(" ", indent) + l
		case indent > 0:
			l = strings.Repeat(" ", indent+2) + l
		}
		out[i] = l
	}
	return out
}

// nbHyphen stands for a hyphen while wrap wraps: a non-breaking hyphen, as
// wide.
const nbHyphen = "\u2011"

// flow joins the lines of each paragraph of text, for wrapping anew;
// paragraphs stay apart.
func flow(text string) string {
	paras := strings.Split(strings.TrimSpace(text), "\n\n")
	for i, p := range paras {
		p = strings.ReplaceAll(p, "\u00a0", "\x00") // strings.Fields would split at it
		paras[i] = strings.ReplaceAll(strings.Join(strings.Fields(p), " "), "\x00", "\u00a0")
	}
	return strings.Join(paras, "\n\n")
}

// drawn returns the lines a view draws.
func drawn(draw func(io.Writer) error) []string {
	var b strings.Builder
	if err := draw(&b); err != nil {
		return []string{err.Error()}
	}
	return lines(b.String())
}

// lines splits text into its lines, without a last empty one.
func lines(text string) []string {
	text = strings.TrimRight(text, "\n")
	if text == "" {
		return nil
	}
	return strings.Split(text, "\n")
}

// cut makes every line at most w columns wide.
func cut(lines []string, w int) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = ansi.Truncate(l, w, "")
	}
	return out
}

// pad fills s with spaces to w columns.
func pad(s string, w int) string {
	return s + strings.Repeat(" ", max(w-ansi.StringWidth(s), 0))
}

// dur formats a measured duration, its unit joined to it so that a
// wrapped line never parts them.
func dur(d time.Duration) string {
	return strings.Replace(result.DurationText(d), " ", "\u00a0", 1)
}

// msText formats a measured time, or says it never happened.
func msText(v *float64) string {
	if v == nil {
		return "never"
	}
	return result.MSText(*v)
}
