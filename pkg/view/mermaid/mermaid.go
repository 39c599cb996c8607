// Package mermaid draws a measured call as a Mermaid sequence diagram, the
// text that GitHub, GitLab and most slide tools render as a picture.
//
// The diagram has the two participants and every message as an arrow, in
// the order the messages were sent: requests as ->>, replies as -->>, and
// messages a side may send whenever it likes (a WebSocket's) as -). Each
// wait is a note over the waiting side, placed where the wait began, with
// its measured length and reason. Messages in flight both ways at once sit
// in a par block, one branch per direction.
package mermaid

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// MaxText is how many characters of a line's text an arrow shows; longer
// lines end in an ellipsis, so that the diagram fits a slide.
const MaxText = 48

// Write writes the calls as a Markdown document: for each call a heading
// and its diagram in a ```mermaid block, which GitHub renders in place.
func Write(w io.Writer, calls ...*result.Result) error {
	var b strings.Builder
	for i, res := range calls {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "## %s: %s\n\n", res.Mode.Key, res.Mode.Transport)
		fmt.Fprintf(&b, "Measured by duplexdemo on a real connection, %s. Times are milliseconds since the grandchild wanted to ask.", latency(res.Latency))
		if a := res.Alignment; a != nil {
			fmt.Fprintf(&b, " Grandma ran elsewhere, at %s: her times come from her own clock, placed on the grandchild's to within ± %s.", res.Server, ms(a.Uncertainty))
		}
		b.WriteString("\n\n")
		b.WriteString("```mermaid\n")
		b.WriteString(Diagram(res))
		b.WriteString("```\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Diagram returns the call's sequence diagram, starting with
// "sequenceDiagram" and ending with a newline.
func Diagram(res *result.Result) string {
	tl := res.Timeline
	var b strings.Builder
	b.WriteString("sequenceDiagram\n")
	fmt.Fprintf(&b, "    title %s over %s, %s\n", text(res.Mode.Key), text(res.Mode.Transport), latency(res.Latency))
	fmt.Fprintf(&b, "    participant %s as Grandchild (client)\n", participant(timeline.Client))
	fmt.Fprintf(&b, "    participant %s as Grandma (server)\n", participant(timeline.Server))

	items := collect(res)
	byMsg := clusters(tl)
	for i := range items {
		if items[i].msg != timeline.NoMsg {
			items[i].cluster = byMsg[items[i].msg]
		}
	}
	// Each cluster is drawn once, as a par block where its first message
	// was sent, with the lines of all its messages.
	for _, it := range items {
		if it.cluster != nil {
			it.cluster.branches[it.side] = append(it.cluster.branches[it.side], it.line)
		}
	}
	var open *cluster
	flush := func() {
		if open == nil {
			return
		}
		first := timeline.Side(0)
		if open.firstSide == timeline.Server {
			first = timeline.Server
		}
		fmt.Fprintf(&b, "    par %s\n", branchTitle(first))
		for _, l := range open.branches[first] {
			fmt.Fprintf(&b, "        %s\n", l)
		}
		fmt.Fprintf(&b, "    and at the same time, %s\n", branchTitle(first.Peer()))
		for _, l := range open.branches[first.Peer()] {
			fmt.Fprintf(&b, "        %s\n", l)
		}
		b.WriteString("    end\n")
		open.drawn = true
		open = nil
	}
	for _, it := range items {
		if it.cluster != nil {
			if it.cluster != open && !it.cluster.drawn {
				flush()
				open = it.cluster
			}
			continue
		}
		flush()
		fmt.Fprintf(&b, "    %s\n", it.line)
	}
	flush()
	return b.String()
}

// item is one line of the diagram: an arrow or a note.
type item struct {
	at   time.Duration
	side timeline.Side
	// msg is the message an arrow shows; NoMsg for a note.
	msg timeline.MsgID
	// rank orders lines at the same moment: a connection opening or a wait
	// beginning (0) before a message (1) before a connection closing (2).
	rank    int
	line    string
	cluster *cluster
}

// collect returns the diagram's arrows and notes in the order they are
// drawn: by the time each happened, a note before an arrow at the same time.
func collect(res *result.Result) []item {
	tl := res.Timeline
	var items []item
	for _, e := range tl.Events {
		if e.Kind == timeline.KindConnect || e.Kind == timeline.KindClose {
			rank := 0
			if e.Kind == timeline.KindClose {
				rank = 2
			}
			items = append(items, item{at: e.At, side: e.Side, msg: timeline.NoMsg, rank: rank,
				line: fmt.Sprintf("Note over %s: %s %s", participant(e.Side), ms(e.At), text(e.Text))})
		}
	}
	for _, m := range tl.Messages {
		if m.Sent && m.Waited() >= timeline.Resolution {
			items = append(items, item{at: m.WantedAt, side: m.From, msg: timeline.NoMsg,
				line: fmt.Sprintf("Note over %s: %s wants to say the %s, waits %s: %s", participant(m.From), ms(m.WantedAt), text(m.Label), ms(m.Waited()), text(m.Reason))})
		}
	}
	for _, u := range tl.Utterances() {
		for i, m := range u.Messages {
			heard := "never heard"
			if m.Heard {
				heard = "heard " + ms(m.HeardAt)
			}
			items = append(items, item{at: m.SentAt, side: m.From, msg: m.ID, rank: 1,
				line: fmt.Sprintf("%s%s%s: sent %s, %s. %s: %s", participant(m.From), arrow(res, m.From), participant(m.From.Peer()),
					ms(m.SentAt), heard, text(u.PartName(i)), text(short(m.Text)))})
		}
	}
	slices.SortStableFunc(items, func(a, b item) int {
		if a.at != b.at {
			return int(a.at - b.at)
		}
		return a.rank - b.rank
	})
	return items
}

// cluster is a group of messages in flight both ways at once, drawn as one
// par block where its first message was sent.
type cluster struct {
	firstSide timeline.Side
	// branches are the lines of its messages from each side.
	branches [2][]string
	// drawn is set once the block is in the diagram.
	drawn bool
}

// clusters groups the messages that were in flight both ways at once: a
// message of each side between its first byte being sent and its being
// heard, at the same time for at least timeline.Resolution, joined with
// every message in flight at once with one of them. It returns each
// grouped message's cluster; the others are not in the map.
func clusters(tl *timeline.Timeline) map[timeline.MsgID]*cluster {
	type flight struct {
		m          timeline.Message
		start, end time.Duration
	}
	var flights []flight
	for _, m := range tl.Messages {
		if !m.Sent {
			continue
		}
		end := tl.Duration
		if m.Heard {
			end = m.HeardAt
		}
		flights = append(flights, flight{m, m.SentAt, end})
	}
	// Union-find over the pairs in flight both ways at once.
	parent := make([]int, len(flights))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		if parent[i] != i {
			parent[i] = find(parent[i])
		}
		return parent[i]
	}
	// Messages are in the order they were wanted; the block's first branch
	// is the side that sent first.
	order := make([]int, len(flights))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return int(flights[a].start - flights[b].start) })
	// A message b and one sent before it, a, from the other side are in
	// flight at once for at least Resolution when b lasts that long and a
	// ends Resolution or more after b's start. Taking b in the order they
	// were sent, that threshold only grows: a message of a side that falls
	// under it can be forgotten, and the ones of a side that b joins are
	// from then on one group, kept as one with the latest end among them.
	type group struct {
		rep    int // a member, or -1 for none
		maxEnd time.Duration
		fresh  []int // joined no group yet
	}
	var groups [2]group
	groups[0].rep, groups[1].rep = -1, -1
	paired := make([]bool, len(flights))
	for _, j := range order {
		b := flights[j]
		threshold := b.start + timeline.Resolution
		g := &groups[b.m.From.Peer()]
		if b.end >= threshold {
			joined := g.rep >= 0 && g.maxEnd >= threshold
			if joined {
				parent[find(g.rep)] = find(j)
			} else {
				g.rep = -1
			}
			for _, i := range g.fresh {
				if flights[i].end < threshold {
					continue
				}
				paired[i] = true
				parent[find(i)] = find(j)
				if !joined || flights[i].end > g.maxEnd {
					g.maxEnd = flights[i].end
				}
				joined = true
				g.rep = i
			}
			g.fresh = g.fresh[:0]
			if joined {
				paired[j] = true
			}
		}
		groups[b.m.From].fresh = append(groups[b.m.From].fresh, j)
	}
	out := map[timeline.MsgID]*cluster{}
	roots := map[int]*cluster{}
	for _, i := range order {
		if !paired[i] {
			continue
		}
		r := find(i)
		c, ok := roots[r]
		if !ok {
			c = &cluster{firstSide: flights[i].m.From}
			roots[r] = c
		}
		out[flights[i].m.ID] = c
	}
	return out
}

func branchTitle(side timeline.Side) string {
	if side == timeline.Server {
		return "Grandma talks"
	}
	return "the grandchild talks"
}

// participant returns the diagram's short name for a side.
func participant(side timeline.Side) string {
	if side == timeline.Server {
		return "Grandma"
	}
	return "Grandchild"
}

// arrow returns the arrow for a message from side: on a transport where
// grandma speaks only when asked, the grandchild's messages are requests
// and grandma's are replies; otherwise every message is sent whenever its
// side likes.
func arrow(res *result.Result, from timeline.Side) string {
	switch {
	case res.Mode.ServerMayStart:
		return "-)"
	case from == timeline.Client:
		return "->>"
	default:
		return "-->>"
	}
}

// ms formats a measured time to the millisecond.
func ms(d time.Duration) string { return result.DurationText(d) }

func latency(d time.Duration) string {
	if d == 0 {
		return "no added latency"
	}
	return d.String() + " each way"
}

// short cuts a line's text to MaxText characters.
func short(s string) string {
	if utf8.RuneCountInString(s) <= MaxText {
		return s
	}
	cut := string([]rune(s)[:MaxText-1])
	if i := strings.LastIndexByte(cut, ' '); i > MaxText/2 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ,.;:") + "…"
}

// text makes s safe inside a Mermaid label: one line, and none of the
// characters that end a statement (;), start an entity (#) or would be read
// as HTML (< >). Each is written as Mermaid's entity code instead, which
// renders as the character itself.
func text(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case ';':
			b.WriteString("#59;")
		case '#':
			b.WriteString("#35;")
		case '<':
			b.WriteString("#60;")
		case '>':
			b.WriteString("#62;")
		case '\n', '\r', '\t':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
