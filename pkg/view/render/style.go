// Package render draws a call for a terminal: the live log printed as
// events happen, the swimlanes after the call, and the summary. Everything
// fits the width it is given, reads in plain ASCII, and uses colour only
// when asked to.
package render

import (
	"strings"
	"unicode/utf8"

	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// DefaultWidth is the width used when the output is not a terminal.
const DefaultWidth = 80

// MinWidth is the narrowest output the picture still fits.
const MinWidth = 60

// Style says how to draw.
type Style struct {
	// Color turns on ANSI colours.
	Color bool
	// ASCII draws with plain ASCII instead of Unicode box and block glyphs.
	ASCII bool
	// Width is the number of columns nothing may exceed; below MinWidth,
	// MinWidth is used.
	Width int
}

func (s Style) width() int {
	if s.Width < MinWidth {
		return max(s.Width, MinWidth)
	}
	return s.Width
}

// glyphs are the characters the picture is drawn with.
type glyphs struct {
	talk, listen, wait, idle string
	right, left              string // arrows for the two directions
	rule, axis, tick         string
	open, closed             string
	pause, resume            string
	ellipsis                 string
	to                       string
	plusMinus                string
	dash                     string // a value a mode does not have
}

func (s Style) glyphs() glyphs {
	if s.ASCII {
		return glyphs{talk: "#", listen: "=", wait: "!", idle: ".", right: "-->", left: "<--", rule: "|", axis: "-", tick: "+",
			open: "o", closed: "x", pause: "||", resume: ">>", ellipsis: "...", to: "->", plusMinus: "+/-", dash: "-"}
	}
	return glyphs{talk: "█", listen: "░", wait: "▚", idle: "·", right: "──▶", left: "◀──", rule: "│", axis: "─", tick: "┼",
		open: "○", closed: "●", pause: "‖", resume: "▶", ellipsis: "…", to: "→", plusMinus: "±", dash: "–"}
}

// ANSI SGR codes.
const (
	sgrBold    = "1"
	sgrDim     = "2"
	sgrRed     = "31"
	sgrYellow  = "33"
	sgrMagenta = "35"
	sgrCyan    = "36"
	sgrBoldRed = "1;31"
)

// paint wraps text in an SGR code when colour is on.
func (s Style) paint(code, text string) string {
	if !s.Color || code == "" || text == "" {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

// sideColor is the colour each side is drawn in, in the log and the lanes.
func sideColor(side timeline.Side) string {
	if side == timeline.Server {
		return sgrMagenta
	}
	return sgrCyan
}

// SideName returns how the picture names a side.
func SideName(side timeline.Side) string {
	if side == timeline.Server {
		return "grandma"
	}
	return "grandchild"
}

// fit pads or cuts text to exactly n columns, ending a cut with ellipsis.
func fit(text string, n int, ellipsis string) string {
	w := utf8.RuneCountInString(text)
	if w <= n {
		return text + strings.Repeat(" ", n-w)
	}
	e := utf8.RuneCountInString(ellipsis)
	if n <= e {
		return string([]rune(text)[:n])
	}
	return string([]rune(text)[:n-e]) + ellipsis
}
