package render

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/duplexdemo/duplexdemo/pkg/report"
)

// Summary prints the numbers of one call: the interruption and the
// afterthought, each side's time talking, listening and waiting, the
// overlap, the bytes and the connections.
func Summary(w io.Writer, r report.Report, style Style) error {
	g := style.glyphs()
	var b strings.Builder
	title := fmt.Sprintf("Summary: %s (%s), latency %s", r.Mode, r.Transport, msText(r.LatencyMS))
	fmt.Fprintln(&b, style.paint(sgrBold, strings.TrimRight(fit(title, style.width(), g.ellipsis), " ")))
	s := r.Summary
	moment(&b, "interruption", s.Interruption, style)
	moment(&b, "afterthought", s.Afterthought, style)
	fmt.Fprintf(&b, "  %-12s %10s %10s %10s\n", "", "talking", "listening", "waiting")
	for _, row := range []struct {
		name string
		t    report.SideTimes
	}{{"grandchild", s.Client}, {"grandma", s.Server}} {
		fmt.Fprintf(&b, "  %-12s %10s %10s %10s\n", row.name, msText(row.t.TalkingMS), msText(row.t.ListeningMS), msText(row.t.WaitingMS))
	}
	fmt.Fprintf(&b, "  %-12s %s with both directions in flight at once\n", "overlap", style.paint(sgrBold, msText(s.OverlapMS)))
	fmt.Fprintf(&b, "  %-12s client %s server %s, server %s client %s\n", "bytes",
		g.to, bytesText(s.Bytes.ClientToServer, s.PayloadBytes.ClientToServer), g.to, bytesText(s.Bytes.ServerToClient, s.PayloadBytes.ServerToClient))
	fmt.Fprintf(&b, "  %-12s %d\n", "connections", s.Connections)
	_, err := io.WriteString(w, b.String())
	return err
}

// moment prints the two lines about one key line of the script.
func moment(b *strings.Builder, name string, m report.Moment, style Style) {
	g := style.glyphs()
	if m.WantedAtMS == nil {
		fmt.Fprintf(b, "  %-12s never wanted\n", name)
		return
	}
	path := "wanted " + msText(*m.WantedAtMS)
	if m.SentAtMS != nil {
		path += " " + g.to + " sent " + msText(*m.SentAtMS)
	} else {
		path += " " + g.to + " never sent"
	}
	if m.HeardAtMS != nil {
		path += " " + g.to + " heard " + msText(*m.HeardAtMS)
	}
	fmt.Fprintf(b, "  %-12s %s\n", name, path)
	if m.WaitedMS == nil || m.HeardAfterMS == nil {
		return
	}
	waited := "waited " + msText(*m.WaitedMS)
	if *m.WaitedMS >= 1 {
		waited = style.paint(sgrBoldRed, waited) + " (" + m.Reason + ")"
	}
	fmt.Fprintf(b, "  %-12s %s, heard %s after\n", "", waited, style.paint(sgrBold, msText(*m.HeardAfterMS)))
}

// msText formats milliseconds as a whole number, "731 ms".
func msText(ms float64) string {
	return fmt.Sprintf("%d ms", int64(math.Round(ms)))
}

// bytesText formats wire bytes with the share that was not payload.
func bytesText(wire, payload int64) string {
	if wire == 0 {
		return "0 B"
	}
	overhead := float64(wire-payload) / float64(wire) * 100
	return fmt.Sprintf("%d B (%.0f%% overhead)", wire, overhead)
}
