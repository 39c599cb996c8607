package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/view/report"
)

// Summary prints the numbers of one call: the interruption and the
// afterthought, each side's time talking, listening and waiting, the
// overlap, the bytes and the connections; under them, the mode's note, if
// it has one.
func Summary(w io.Writer, r report.Call, style Style) error {
	g := style.glyphs()
	var b strings.Builder
	// The title, and the transport beside it if it fits, or under it,
	// wrapped: never cut, for it says what the numbers are of.
	title := fmt.Sprintf("Summary: %s, latency %s", r.Mode, result.MSText(r.LatencyMS))
	if whole := title + " (" + r.Transport + ")"; visibleWidth(whole) <= style.width() {
		fmt.Fprintln(&b, style.paint(sgrBold, whole))
	} else {
		fmt.Fprintln(&b, style.paint(sgrBold, strings.TrimRight(fit(title, style.width(), g.ellipsis), " ")))
		for _, line := range wrapWords("("+r.Transport+")", style.width()-2) {
			fmt.Fprintln(&b, "  "+line)
		}
	}
	s := r.Summary
	moments(&b, s.Interruption, s.Afterthought, style)
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "  %-14s%11s%11s%11s\n", "", "talking", "listening", "waiting")
	for _, row := range []struct {
		name string
		t    report.SideTimes
	}{{"grandchild", s.Client}, {"grandma", s.Server}} {
		fmt.Fprintf(&b, "  %-14s%11s%11s%11s\n", row.name, report.SpentText(row.t.TalkingMS, row.t.LinesSaid), report.SpentText(row.t.ListeningMS, row.t.LinesHeard), result.MSText(row.t.WaitingMS))
	}
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "  %-14s%s (bytes on the link both ways at once)\n", "overlap", style.paint(sgrBold, result.MSText(s.OverlapMS)))
	fmt.Fprintf(&b, "  %-14sclient %s server %s\n", "bytes", g.to, report.BytesText(s.Bytes.ClientToServer, s.PayloadBytes.ClientToServer, 5))
	fmt.Fprintf(&b, "  %-14sserver %s client %s\n", "", g.to, report.BytesText(s.Bytes.ServerToClient, s.PayloadBytes.ServerToClient, 5))
	if busy, l := s.LinkBusyMS, r.Link; busy != nil && l != nil {
		// How long each direction of a limited link was occupied: the
		// bytes above at its rate.
		fmt.Fprintf(&b, "  %-14sclient %s server %5s, server %s client %s (%s each way)\n", "link busy",
			g.to, result.MSText(busy.ClientToServer), g.to, result.MSText(busy.ServerToClient), report.RateText(l.BandwidthBPS))
	}
	if p := s.Photo; p != nil {
		if q := p.InterruptionBehindPhotoMS; q != nil {
			fmt.Fprintf(&b, "  %-14s%s, the interruption waited %s while the link carried it up\n", "photo",
				story.PhotoSize(p.Bytes), style.paint(sgrBold, result.MSText(*q)))
		} else {
			fmt.Fprintf(&b, "  %-14s%s (a link without a --bandwidth queues nothing behind it)\n", "photo", story.PhotoSize(p.Bytes))
		}
	}
	if l := r.Link; l != nil && l.JitterMS > 0 {
		fmt.Fprintf(&b, "  %-14sup to %s more on each write, seed %d\n", "jitter", result.MSText(l.JitterMS), l.Seed)
	}
	// The connections and the mode's own facts, their values lined up.
	name := 14
	for _, f := range s.Facts {
		name = max(name, visibleWidth(f.Title)+1)
	}
	fmt.Fprintf(&b, "  %-*s%d\n", name, "connections", s.Connections)
	for _, f := range s.Facts {
		fmt.Fprintf(&b, "  %-*s%s\n", name, f.Title, f.Text())
	}
	if a := r.ClockAlignment; a != nil {
		fmt.Fprintln(&b, strings.TrimRight(fit(fmt.Sprintf("  %-14s%s", "grandma at", r.Server), style.width(), g.ellipsis), " "))
		if r.ServerLatencyMS > 0 {
			fmt.Fprintf(&b, "  %-14s%s each way more (serve --latency)\n", "her link", result.MSText(r.ServerLatencyMS))
		}
		fmt.Fprintf(&b, "  %-14saligned %s %s (half a round trip)\n", "her clock", g.plusMinus, result.MSText(a.UncertaintyMS))
	}
	if r.Note != "" {
		fmt.Fprintln(&b)
		for _, line := range wrapWords("Note: "+r.Note, style.width()-2) {
			fmt.Fprintf(&b, "  %s\n", line)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// wrapWords breaks text into lines of at most width columns, between
// words; a word longer than a line has one to itself.
func wrapWords(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && visibleWidth(line)+1+visibleWidth(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// moments prints the interruption and the afterthought side by side: when
// each was wanted, sent and heard, how long it waited and why.
func moments(b *strings.Builder, interruption, afterthought report.Moment, style Style) {
	const row = "  %-14s%22s%22s\n"
	fmt.Fprintf(b, row, "", "interruption", "afterthought")
	ms := func(v *float64, never string) string {
		if v == nil {
			return never
		}
		return result.MSText(*v)
	}
	pair := func(name string, get func(report.Moment) string) {
		fmt.Fprintf(b, row, name, get(interruption), get(afterthought))
	}
	pair("wanted at", func(m report.Moment) string { return ms(m.WantedAtMS, "never") })
	pair("sent at", func(m report.Moment) string { return ms(m.SentAtMS, "never") })
	pair("heard at", func(m report.Moment) string { return ms(m.HeardAtMS, "never") })
	// Painted cells are padded by hand: escapes take no columns.
	cells := [2]string{}
	for i, m := range []report.Moment{interruption, afterthought} {
		text := ms(m.WaitedMS, "-")
		if m.WaitedMS != nil && *m.WaitedMS >= 1 {
			text = style.paint(sgrBoldRed, text)
		}
		cells[i] = strings.Repeat(" ", max(22-visibleWidth(text), 0)) + text
	}
	fmt.Fprintf(b, "  %-14s%s%s\n", "waited", cells[0], cells[1])
	pair("because", func(m report.Moment) string {
		if m.WaitedMS == nil || *m.WaitedMS < 1 {
			return "-"
		}
		return m.Reason
	})
	for i, m := range []report.Moment{interruption, afterthought} {
		text := ms(m.HeardAfterMS, "-")
		if m.HeardAfterMS != nil {
			text = style.paint(sgrBold, text)
		}
		cells[i] = strings.Repeat(" ", max(22-visibleWidth(text), 0)) + text
	}
	fmt.Fprintf(b, "  %-14s%s%s\n", "heard after", cells[0], cells[1])
}
