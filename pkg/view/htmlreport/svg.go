package htmlreport

import (
	"html/template"
	"strconv"
	"strings"

	"github.com/duplexdemo/duplexdemo/pkg/result"
)

// The figure's calls hold an element or more for every span and message,
// which is most of a long call's page; they are written here rather than
// by the template, whose reflection costs many times the writing. The
// output is byte for byte what html/template writes for the same markup:
// every piece of text goes through escape, which replaces the characters
// html/template replaces, with the same entities, in text and in quoted
// attribute values alike.

// svgWriter writes the figure's markup into a builder.
type svgWriter struct {
	b   strings.Builder
	tmp [32]byte
}

func (w *svgWriter) raw(s string) { w.b.WriteString(s) }

// escape writes s as html/template writes a string in HTML text, RCDATA
// (a title) or a quoted attribute value: NUL becomes U+FFFD, and the
// quotes, ampersand, plus and angle brackets become entities. All of them
// are ASCII, so no byte of a multi-byte UTF-8 sequence is one of them, and
// anything else, invalid UTF-8 included, goes through unchanged.
func (w *svgWriter) escape(s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var repl string
		switch s[i] {
		case 0:
			repl = "\uFFFD"
		case '"':
			repl = "&#34;"
		case '&':
			repl = "&amp;"
		case '\'':
			repl = "&#39;"
		case '+':
			repl = "&#43;"
		case '<':
			repl = "&lt;"
		case '>':
			repl = "&gt;"
		default:
			continue
		}
		w.b.WriteString(s[last:i])
		w.b.WriteString(repl)
		last = i + 1
	}
	w.b.WriteString(s[last:])
}

// num writes f with one decimal: "%.1f".
func (w *svgWriter) num(f float64) { w.b.Write(strconv.AppendFloat(w.tmp[:0], f, 'f', 1, 64)) }

// exact writes f with three decimals: "%.3f".
func (w *svgWriter) exact(f float64) { w.b.Write(strconv.AppendFloat(w.tmp[:0], f, 'f', 3, 64)) }

// defs are the hatching of a wait and the arrowheads, drawn once in the
// first call's SVG; the others refer to them by id, as one document may.
const defs = `
<defs>
<pattern id="hatch" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
<rect width="8" height="8" fill="#fde3d3"/><line x1="0" y1="0" x2="0" y2="8" stroke="#d55e00" stroke-width="3"/>
</pattern>
<marker id="head-client" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#0072b2"/></marker>
<marker id="head-server" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#00795a"/></marker>
</defs>`

// linkDefs are the patterns of the link's busy times, up and down, drawn
// once in the first call's SVG when some call had a link with a bandwidth:
// stripes along the link, unlike a wait's hatching, in the colour of the
// arrows that go its way, so that printed in black and white they still
// differ from talking, listening and waiting.
const linkDefs = `
<defs>
<pattern id="busy-client" width="6" height="6" patternUnits="userSpaceOnUse">
<rect width="6" height="6" fill="#d9eaf6"/><line x1="0" y1="3" x2="6" y2="3" stroke="#0072b2" stroke-width="2"/>
</pattern>
<pattern id="busy-server" width="6" height="6" patternUnits="userSpaceOnUse">
<rect width="6" height="6" fill="#d6ede4"/><line x1="0" y1="3" x2="6" y2="3" stroke="#00795a" stroke-width="2"/>
</pattern>
</defs>`

// figureHTML writes the figure's calls, each a panel of its own: an SVG
// with the call's title, its two lanes with their talking, listening and
// waiting marks, and its messages, over the ticks of the time axis; then
// a strip with the axis and its labels. On screen the panels stack into
// one picture with one axis, under the last call; printed, every panel
// keeps its axis, and a page breaks between panels.
func figureHTML(f *figure) template.HTML {
	var w svgWriter
	n := 0
	for _, g := range f.Groups {
		n += 4 + len(g.Messages) + 2*len(f.Ticks)
		for _, l := range g.Lanes {
			n += len(l.Talks) + len(l.Listens) + len(l.Waits)
		}
		for _, l := range g.Links {
			n += 4 + len(l.Busy)
		}
	}
	w.b.Grow(n * 400)
	for i := range f.Groups {
		w.panel(f, i)
	}
	return template.HTML(w.b.String()) // every piece of text in it is escaped
}

func (w *svgWriter) panel(f *figure, i int) {
	g := &f.Groups[i]
	id := strconv.Itoa(i + 1)
	w.raw("\n<div class=\"panel\" data-mode=\"")
	w.escape(g.Mode)
	w.raw("\">\n<svg class=\"lanes\" data-mode=\"")
	w.escape(g.Mode)
	w.raw("\" viewBox=\"0 ")
	w.num(g.Top)
	w.raw(" ")
	w.num(f.Width)
	w.raw(" ")
	w.num(g.Bottom - g.Top)
	w.raw("\" role=\"img\" aria-labelledby=\"call-")
	w.raw(id)
	w.raw("-title call-")
	w.raw(id)
	w.raw("-desc\" xmlns=\"http://www.w3.org/2000/svg\">\n<title id=\"call-")
	w.raw(id)
	w.raw("-title\">")
	w.escape(g.Title)
	w.raw(": who talked, waited and listened, on the figure's time axis</title>\n<desc id=\"call-")
	w.raw(id)
	w.raw("-desc\">")
	w.escape(g.Desc)
	w.raw("</desc>")
	if i == 0 {
		w.raw(defs)
		for _, g := range f.Groups {
			if len(g.Links) > 0 {
				w.raw(linkDefs)
				break
			}
		}
	}
	for _, t := range f.Ticks {
		w.raw("\n<g class=\"tick\"><line x1=\"")
		w.num(t.X)
		w.raw("\" y1=\"")
		w.num(g.Top)
		w.raw("\" x2=\"")
		w.num(t.X)
		w.raw("\" y2=\"")
		w.num(g.Bottom)
		w.raw("\"/></g>")
	}
	w.group(f, g)
	w.raw("\n</svg>\n<svg class=\"ticks\" viewBox=\"0 0 ")
	w.num(f.Width)
	w.raw(" ")
	w.num(axisH)
	w.raw("\" aria-hidden=\"true\" xmlns=\"http://www.w3.org/2000/svg\">\n<line class=\"axis\" x1=\"")
	w.num(f.PlotLeft)
	w.raw("\" y1=\"0.5\" x2=\"")
	w.num(f.PlotRight)
	w.raw("\" y2=\"0.5\"/>")
	for _, t := range f.Ticks {
		w.raw("\n<g class=\"tick\"><text x=\"")
		w.num(t.X)
		w.raw("\" y=\"18\" text-anchor=\"middle\">")
		w.escape(t.Label)
		w.raw("</text></g>")
	}
	w.raw("\n</svg>\n</div>")
}

func (w *svgWriter) group(f *figure, g *group) {
	w.raw("\n<g class=\"call\" data-mode=\"")
	w.escape(g.Mode)
	w.raw("\">\n<text class=\"group-title\" x=\"8\" y=\"")
	w.num(g.Y)
	w.raw("\">")
	w.escape(g.Title)
	w.raw("</text>")
	for i := range g.Lanes {
		w.lane(f, &g.Lanes[i])
	}
	for i := range g.Links {
		w.link(f, &g.Links[i])
	}
	for i := range g.Messages {
		w.message(&g.Messages[i])
	}
	w.raw("\n</g>")
}

func (w *svgWriter) lane(f *figure, l *lane) {
	w.raw("\n<g class=\"lane\" data-mode=\"")
	w.escape(l.Mode)
	w.raw("\" data-side=\"")
	w.escape(l.Side)
	w.raw("\">\n<rect class=\"lane-bg\" x=\"")
	w.num(f.PlotLeft)
	w.raw("\" y=\"")
	w.num(l.Y)
	w.raw("\" width=\"")
	w.num(f.PlotRight - f.PlotLeft)
	w.raw("\" height=\"")
	w.num(l.Height)
	w.raw("\"/>\n<text class=\"lane-name\" x=\"8\" y=\"")
	w.num(l.Y)
	w.raw("\" dy=\"30\">")
	w.escape(l.Name)
	w.raw("</text>\n<text class=\"lane-role\" x=\"8\" y=\"")
	w.num(l.Y)
	w.raw("\" dy=\"50\">the ")
	w.escape(l.Role)
	w.raw("</text>")
	w.stripeName(f, l.TalkY, "talks")
	w.stripeName(f, l.WaitY, "waits")
	w.stripeName(f, l.ListenY, "listens")
	for i := range l.Listens {
		w.bar("listen", l.ListenY, &l.Listens[i])
	}
	for i := range l.Talks {
		w.bar("talk", l.TalkY, &l.Talks[i])
	}
	for i := range l.Waits {
		w.wait(l, &l.Waits[i])
	}
	w.raw("\n</g>")
}

// link writes a lane of the link: its name, what it carried, and a box for
// each time it was busy, with the time's true start and end.
func (w *svgWriter) link(f *figure, l *linkLane) {
	w.raw("\n<g class=\"link\" data-mode=\"")
	w.escape(l.Mode)
	w.raw("\" data-from=\"")
	w.escape(l.From)
	w.raw("\">\n<rect class=\"lane-bg\" x=\"")
	w.num(f.PlotLeft)
	w.raw("\" y=\"")
	w.num(l.Y)
	w.raw("\" width=\"")
	w.num(f.PlotRight - f.PlotLeft)
	w.raw("\" height=\"")
	w.num(linkH)
	w.raw("\"/>\n<text class=\"lane-name\" x=\"8\" y=\"")
	w.num(l.Y)
	w.raw("\" dy=\"19\">")
	w.escape(l.Name)
	w.raw("</text>\n<text class=\"lane-role\" x=\"8\" y=\"")
	w.num(l.Y)
	w.raw("\" dy=\"36\">")
	w.escape(l.Role)
	w.raw("</text>")
	w.stripeName(f, l.BusyY, "busy")
	for _, b := range l.Busy {
		w.raw("\n<rect class=\"busy from-")
		w.escape(l.From)
		w.raw("\" x=\"")
		w.num(b.X)
		w.raw("\" y=\"")
		w.num(l.BusyY)
		w.raw("\" width=\"")
		w.num(b.W)
		w.raw("\" height=\"18\" data-start-ms=\"")
		w.exact(b.StartMS)
		w.raw("\" data-end-ms=\"")
		w.exact(b.EndMS)
		w.raw("\"><title>")
		w.escape(l.Name)
		w.raw(" busy with ")
		w.escape(l.Role)
		if start, end := result.MSText(b.StartMS), result.MSText(b.EndMS); start != end {
			w.raw(", from ")
			w.escape(start)
			w.raw(" to ")
			w.escape(end)
		} else {
			w.raw(", at ")
			w.escape(start)
		}
		w.raw("</title></rect>")
	}
	w.raw("\n</g>")
}

func (w *svgWriter) stripeName(f *figure, y float64, name string) {
	w.raw("\n<text class=\"stripe-name\" x=\"")
	w.num(f.PlotLeft)
	w.raw("\" dx=\"-6\" y=\"")
	w.num(y)
	w.raw("\" dy=\"13\" text-anchor=\"end\">")
	w.raw(name)
	w.raw("</text>")
}

func (w *svgWriter) bar(class string, y float64, b *bar) {
	w.raw("\n<rect class=\"")
	w.raw(class)
	w.raw("\" x=\"")
	w.num(b.X)
	w.raw("\" y=\"")
	w.num(y)
	w.raw("\" width=\"")
	w.num(b.W)
	w.raw("\" height=\"18\"><title>")
	w.escape(b.Label)
	w.raw(", ")
	w.escape(b.When)
	w.raw("</title></rect>")
}

func (w *svgWriter) wait(l *lane, wt *wait) {
	w.raw("\n<g class=\"wait\" data-mode=\"")
	w.escape(l.Mode)
	w.raw("\" data-side=\"")
	w.escape(l.Side)
	w.raw("\" data-label=\"")
	w.escape(wt.Label)
	w.raw("\" data-reason=\"")
	w.escape(wt.Reason)
	w.raw("\" data-waited-ms=\"")
	w.exact(wt.MS)
	w.raw("\">\n<rect x=\"")
	w.num(wt.X)
	w.raw("\" y=\"")
	w.num(wt.Y)
	w.raw("\" width=\"")
	w.num(wt.W)
	w.raw("\" height=\"18\"><title>")
	w.escape(wt.Text)
	w.raw("</title></rect>\n<text x=\"")
	w.num(wt.TextX)
	w.raw("\" y=\"")
	w.num(wt.Y)
	w.raw("\" dy=\"14\"")
	if wt.TextEnd {
		w.raw(" text-anchor=\"end\"")
	}
	w.raw(">")
	w.escape(wt.Text)
	w.raw("</text>\n</g>")
}

func (w *svgWriter) message(m *message) {
	w.raw("\n<g class=\"msg from-")
	w.escape(m.From)
	w.raw("\" data-label=\"")
	w.escape(m.Label)
	w.raw("\" data-sent-ms=\"")
	w.exact(m.SentMS)
	w.raw("\" data-heard-ms=\"")
	w.exact(m.HeardMS)
	w.raw("\"><line x1=\"")
	w.num(m.X1)
	w.raw("\" y1=\"")
	w.num(m.Y1)
	w.raw("\" x2=\"")
	w.num(m.X2)
	w.raw("\" y2=\"")
	w.num(m.Y2)
	w.raw("\" marker-end=\"url(#head-")
	w.escape(m.From)
	w.raw(")\"/>")
	if m.Key {
		w.raw("<text class=\"key\" x=\"")
		w.num(m.LabelX)
		w.raw("\" y=\"")
		w.num(m.LabelY)
		w.raw("\"")
		if m.LabelEnd {
			w.raw(" text-anchor=\"end\"")
		}
		w.raw(">")
		w.escape(m.Label)
		w.raw("</text>")
	}
	w.raw("<title>")
	w.escape(m.Label)
	w.raw(", sent ")
	w.escape(result.MSText(m.SentMS))
	w.raw(", heard ")
	w.escape(result.MSText(m.HeardMS))
	w.raw(": ")
	w.escape(m.Text)
	w.raw("</title></g>")
}
