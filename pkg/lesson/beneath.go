package lesson

import (
	"context"
	"fmt"
	"strings"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/h1full"
	"github.com/duplexdemo/duplexdemo/pkg/h2"
	"github.com/duplexdemo/duplexdemo/pkg/modes"
	"github.com/duplexdemo/duplexdemo/pkg/rawtcp"
	"github.com/duplexdemo/duplexdemo/pkg/view/report"
	"github.com/duplexdemo/duplexdemo/pkg/webtransport"
)

// beneathMeasures are the rows of the table of the chapter "Is HTTP half
// duplex?": whether the interruption and the afterthought still waited,
// and what each way cost to set up and to carry a line.
var beneathMeasures = []string{
	"transport", "connections", "setup_round_trips", "interruption_waited_ms", "interruption_heard_after_ms",
	"afterthought_waited_ms", "overhead_bytes_per_line",
}

// beneathKey are the rows of that table that matter most, for a screen
// with no room for all.
var beneathKey = []string{"setup_round_trips", "interruption_waited_ms", "afterthought_waited_ms", "overhead_bytes_per_line"}

// beneath is the demo of the chapter "Is HTTP half duplex?": the modes
// beneath the web's (modes.Beneath) and the walkie-talkie, for reference,
// at once on the same script and link; those the lesson's network cannot
// carry are left out, and the conclusion says so.
func beneath(ctx context.Context, l *Teacher, n int) (string, error) {
	play, left := l.playable(append([]call.Mode{modes.Ends()[0]}, modes.Beneath()...))
	_, t, err := l.playAll(ctx, n, play, beneathMeasures, beneathKey)
	if err != nil {
		return "", err
	}
	return beneathPoint(t, left), nil
}

// beneathPoint says what the table t of that chapter measured, from its
// own numbers: where the wire itself stands (raw TCP), what HTTP/1.1 and
// HTTP/2 allow when both ends agree and why a browser cannot use it, and
// what WebTransport, which a browser can use, costs to set up. left are
// the modes it could not play.
func beneathPoint(t report.Table, left []call.Mode) string {
	walkie, tcp, h1, two, wt := modes.Ends()[0], rawtcp.Mode(), h1full.Mode(), h2.Mode(), webtransport.Mode()
	var says []string
	say := func(format string, a ...any) { says = append(says, fmt.Sprintf(format, a...)) }
	if c, ok := callOf(t, tcp); ok {
		say("On raw TCP the interruption waited %s and grandma's afterthought %s", cell(t, "interruption_waited_ms", tcp), cell(t, "afterthought_waited_ms", tcp))
		if !tookTurns(c) {
			says[len(says)-1] += ": the wire was always full duplex"
		}
		says[len(says)-1] += "."
	}
	if c, ok := callOf(t, h1); ok {
		verb := "can be"
		if !tookTurns(c) {
			verb = "is"
		}
		text := fmt.Sprintf("HTTP/1.1 %s too, when both ends agree: its interruption waited %s", verb, cell(t, "interruption_waited_ms", h1))
		if _, ok := callOf(t, walkie); ok {
			text += fmt.Sprintf(", the walkie-talkie's %s", cell(t, "interruption_waited_ms", walkie))
		}
		say("%s. A browser cannot: its fetch sends the whole request before it reads the answer, and proxies wait for whole requests.", text)
	}
	if c, ok := callOf(t, two); ok {
		text := fmt.Sprintf("HTTP/2 ran %d streams on %s connection", fact(c.Summary, "streams"), cell(t, "connections", two))
		if fact(c.Summary, "streams") > 1 {
			text += ", the urgent line on its own"
		}
		say("%s: its interruption waited %s.", text, cell(t, "interruption_waited_ms", two))
	}
	if _, ok := callOf(t, wt); ok {
		text := fmt.Sprintf("WebTransport, which a browser can use, did the same (%s) after %s round trips to set up", cell(t, "interruption_waited_ms", wt), cell(t, "setup_round_trips", wt))
		if _, ok := callOf(t, tcp); ok {
			text += fmt.Sprintf(" where TCP took %s, at %s of overhead per line where TCP paid %s", cell(t, "setup_round_trips", tcp), cell(t, "overhead_bytes_per_line", wt), cell(t, "overhead_bytes_per_line", tcp))
		} else {
			text += fmt.Sprintf(", at %s of overhead per line", cell(t, "overhead_bytes_per_line", wt))
		}
		// Not the same layer: QUIC's handshake, encryption and
		// acknowledgements are in the UDP payloads counted; TCP's are in
		// its headers, which no TCP mode counts.
		text += " (QUIC's handshake and acks ride in its UDP bytes; TCP's, in uncounted headers)"
		say("%s.", text)
	}
	for _, m := range left {
		say("Left out here: %s, which rides UDP datagrams; this lesson's network carries none.", m.Name)
	}
	// The conclusion holds only if nothing beneath the web's ways took
	// turns.
	none := len(t.Calls) > 1
	for _, c := range t.Calls {
		if c.Mode != walkie.Key && tookTurns(c) {
			none = false
		}
	}
	if none {
		say("So taking turns was the rule of request and answer, not of HTTP, nor of the wire.")
	}
	return strings.Join(says, " ")
}

// callOf returns the call in mode m among t's, and whether t has one.
func callOf(t report.Table, m call.Mode) (report.Call, bool) {
	for _, c := range t.Calls {
		if c.Mode == m.Key {
			return c, true
		}
	}
	return report.Call{}, false
}

// cell is the value of measure name for the call in mode m, as t's table
// shows it ("0 ms", "2.2", "601 B"), its unit joined to it.
func cell(t report.Table, name string, m call.Mode) string {
	for _, row := range t.Measures {
		if row.Name == name {
			return strings.Replace(row.ValueText(row.Values[m.Key], "-"), " ", nbsp, 1)
		}
	}
	return "-"
}

// tookTurns says whether the interruption or the afterthought of call c
// waited as a turn does: a millisecond at least, as the summary marks a
// wait, and no shorter than one crossing of the link, for the other side's
// turn to end. A shorter wait is the busy machine's, not the protocol's
// rule; the conclusion gives it all the same.
func tookTurns(c report.Call) bool {
	turn := max(1, c.LatencyMS+c.ServerLatencyMS)
	waited := func(v *float64) bool { return v == nil || *v >= turn }
	return waited(c.Summary.Interruption.WaitedMS) || waited(c.Summary.Afterthought.WaitedMS)
}
