// Package result holds what a call measured, as plain data: which mode
// carried it, its timeline, its bytes and connections, and the facts only
// its mode counts. Every view (the terminal picture, the JSON, the HTML
// report, Mermaid, Perfetto) reads a Result and nothing else, so none of
// them imports the network code that made it.
package result

import (
	"fmt"
	"math"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// Mode describes one way of carrying the call, for people and views.
type Mode struct {
	// Key is the mode's command and its name in JSON: "walkie".
	Key string
	// Name is the mode in words, as a sentence says it: "the walkie-talkie".
	Name string
	// Transport describes what carries the call, in one line.
	Transport string
	// ServerMayStart says whether the transport lets grandma speak without
	// being asked: false for HTTP request/response, true for a WebSocket.
	ServerMayStart bool
	// Note, if not empty, is what a reader of the call's numbers should
	// know about the mode and the numbers cannot show, in a sentence or
	// two, such as that no browser can carry a call this way, and why; in
	// ASCII, as --ascii prints it. The summary prints it under the numbers,
	// and --json carries it.
	Note string
}

// Result is what a call measured.
type Result struct {
	// Mode is the way the call was carried.
	Mode Mode
	// Latency is the emulated one-way latency.
	Latency time.Duration
	// Timeline is every event of the call.
	Timeline *timeline.Timeline
	// WireBytes counts every byte on the wire, headers and framing
	// included, indexed by the side that sent them: PerConnection's sum.
	WireBytes [2]int64
	// Connections is how many connections the grandchild opened.
	Connections int
	// PerConnection counts the bytes of each of those connections, each
	// way, in the order they were opened.
	PerConnection []ConnBytes
	// Facts are the counts only this mode keeps (the requests of a call
	// over HTTP, the polls that brought nothing), in the order to show them.
	Facts []Fact
	// Server is the grandma the call went to, when she was elsewhere (a
	// URL); empty when both sides ran in this process.
	Server string
	// Alignment is how grandma's clock was placed on the grandchild's, when
	// she was elsewhere; nil when both sides shared one clock.
	Alignment *timeline.Alignment
	// ServerLatency is the emulated link on grandma's side, when she was
	// elsewhere and had one (serve --latency), on top of Latency.
	ServerLatency time.Duration
	// Reported is the call's number in the class experiment of the grandma
	// elsewhere it was reported to; 0 when it was not.
	Reported int
	// Link is the emulated link's shape beyond its latency.
	Link Link
	// Busy is how long the link spent serialising bytes, indexed by the
	// side that sent them: with a bandwidth, the time each direction was
	// occupied; 0 without one.
	Busy [2]time.Duration
	// BusySpans are when it did, in order of their start, on the call's
	// clock; nil without a bandwidth.
	BusySpans []BusySpan
}

// Link is an emulated link's bandwidth, jitter and the seed its jitter
// was drawn with; zero values mean unlimited and none.
type Link struct {
	// Bandwidth is in bits per second, each direction; 0 is unlimited.
	Bandwidth int64
	// Jitter is the most extra delay each write or datagram took.
	Jitter time.Duration
	// Seed replays the jitter's draws.
	Seed uint64
}

// BusySpan is a time one direction of the link spent serialising bytes
// sent by From.
type BusySpan struct {
	From       timeline.Side
	Start, End time.Duration
}

// ConnBytes is one connection's bytes, counted where they crossed the
// emulated link, indexed by the side that sent them, and the grandchild's
// port, TCP or UDP (0 on a network without ports), for matching it with a
// packet capture.
type ConnBytes struct {
	ClientPort int
	Bytes      [2]int64
}

// PayloadBytes returns the bytes of message text each side sent, indexed
// by side; the rest of WireBytes is protocol overhead.
func (r *Result) PayloadBytes() [2]int64 {
	var p [2]int64
	for _, m := range r.Timeline.Messages {
		if m.Sent {
			p[m.From] += int64(m.Bytes())
		}
	}
	return p
}

// Unit is what a Fact counts.
type Unit string

const (
	// Count is a plain number of things.
	Count Unit = ""
	// Bytes is bytes on the wire.
	Bytes Unit = "B"
	// Millis is a stretch of time, in milliseconds.
	Millis Unit = "ms"
)

// Fact is one count a mode keeps of its own call: views show it by its
// title and unit without knowing what it means.
type Fact struct {
	// Key names the fact in JSON and in comparisons: "empty_replies".
	Key string
	// Title names it for people: "polls with nothing".
	Title string
	// Value is the count, in Unit.
	Value float64
	Unit  Unit
	// Compared says the fact earns a row when calls are set side by side.
	Compared bool
}

// MS converts a duration to milliseconds, rounded to the microsecond: the
// one way every view turns a measured time into a number.
func MS(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

// MSText formats milliseconds as a whole number, "731 ms": the one
// millisecond text of every view.
func MSText(ms float64) string {
	return fmt.Sprintf("%d ms", int64(math.Round(ms)))
}

// DurationText formats a duration as whole milliseconds, "731 ms".
func DurationText(d time.Duration) string { return MSText(MS(d)) }
