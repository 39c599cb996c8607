package lesson

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
	"github.com/duplexdemo/duplexdemo/pkg/modes"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/view/render"
	"github.com/duplexdemo/duplexdemo/pkg/view/report"
	"github.com/duplexdemo/duplexdemo/pkg/workarounds"
)

// Chapters returns the lesson's chapters, in order.
func Chapters() []Chapter {
	return []Chapter{
		{
			Title: "Taking turns",
			brief: `A walkie-talkie is half duplex: one talks while the other listens, then they
swap. HTTP/1.1 on one connection takes turns the same way.`,
			moments: []string{story.LabelQuestion},
			explain: `On a walkie-talkie only one person talks at a time. You press the button,
speak, and let go; only then can the other person answer. While one talks,
the other can only listen. A channel like that is called half duplex.

HTTP/1.1 on one connection works much the same way. The client sends a
request, the server sends back its response, and the client's next request
on that connection waits until the response is over. And the server never
speaks first: it only ever answers.

Watch a grandchild (the client) call grandma (the server) over HTTP: the
first moments of the call.`,
			demo: func(ctx context.Context, l *Teacher, n int) (string, error) {
				r, err := l.play(ctx, n, halfduplex.Mode(), show{log: true, logLimit: 6})
				if err != nil {
					return "", err
				}
				q, first := moment(r, story.LabelQuestion), moment(r, story.LabelStory)
				return fmt.Sprintf(`The question waited %s while TCP opened the connection (its handshake
takes a round trip), left at %s and reached grandma at %s. Only then could
her answer begin: her first sentence left at %s. Each side spoke only in its
turn.`,
					ms(q.waited), ms(q.sent), ms(q.heard), ms(first.sent)), nil
			},
		},
		{
			Title: "Grandma's story",
			brief: `Grandma's story is one long HTTP answer. Interrupting it takes a second
request, which on the one connection waits for the whole answer.`,
			question: interruptionQuestion("over HTTP"),
			moments:  []string{story.LabelInterruption},
			explain: `Grandma answers with a long story, sent sentence by sentence as one HTTP
response. Partway through, the grandchild wants to ask something. Over HTTP
that is a second request, and on the one connection it has to wait until
grandma's whole answer has arrived. (Browsers open a few connections to a
server to get around this; here there is one, like the one channel of a
walkie-talkie.)

Look for the grandchild's WAITS line, and for the waiting stretch in her
swimlane.`,
			demo: func(ctx context.Context, l *Teacher, n int) (string, error) {
				r, err := l.play(ctx, n, halfduplex.Mode(), show{log: true, lanes: true})
				if err != nil {
					return "", err
				}
				i := r.Summary.Interruption
				text := fmt.Sprintf(`You wanted to interrupt at %s; grandma heard you at %s. You waited %s,
because the channel was busy with her answer.`, ms(i.WantedAtMS), ms(i.HeardAtMS), ms(i.WaitedMS))
				if last := moment(r, story.LabelStory); last.sent != nil && i.HeardAtMS != nil && *i.HeardAtMS > *last.lastSent {
					text += " By then her story was over."
				}
				return text, nil
			},
		},
		{
			Title: "A phone call",
			brief: `A phone is full duplex: both can talk at once. A WebSocket, once opened, lets
either side send whenever it likes.`,
			moments: []string{story.LabelInterruption, story.LabelAfterthought},
			explain: `A phone call is full duplex: both people can talk at the same time, and each
hears the other while talking. A WebSocket makes one connection work like
that. After a one-time opening handshake (an HTTP request that "upgrades"
the connection), either side can send a message whenever it likes.

Same grandchild, same grandma, same story, same link: now on the phone.`,
			demo: func(ctx context.Context, l *Teacher, n int) (string, error) {
				r, err := l.play(ctx, n, fullduplex.Mode(), show{log: true, lanes: true})
				if err != nil {
					return "", err
				}
				q := moment(r, story.LabelQuestion)
				text := fmt.Sprintf(`Opening the WebSocket took two round trips, one for TCP's handshake and
one for the HTTP upgrade, so the question waited %s before it could go. After that, grandma's sentences kept coming while the
grandchild was free to speak.`, ms(q.waited))
				if r.Summary.OverlapMS >= 1 {
					text += fmt.Sprintf(" For %s bytes were on the link both ways at once: a line of hers on its way to grandma while one of grandma's was on its way to her.", ms(&r.Summary.OverlapMS))
				}
				return text, nil
			},
		},
		{
			Title: "Interrupting grandma on the phone",
			brief: `The same interruption at the same moment, on the phone: nothing stands in
the way.`,
			question: interruptionQuestion("on the phone"),
			moments:  []string{story.LabelInterruption},
			explain: `The same moment again: the grandchild interrupts at the same time in the
script as on the walkie-talkie. This time nothing stands in the way.`,
			demo: func(ctx context.Context, l *Teacher, n int) (string, error) {
				before, walkieBefore := l.latest[halfduplex.Mode().Key]
				r, err := l.play(ctx, n, fullduplex.Mode(), show{lanes: true, summary: true})
				if err != nil {
					return "", err
				}
				i := r.Summary.Interruption
				text := fmt.Sprintf(`You wanted to interrupt at %s; grandma heard you at %s, %s later: the
time it takes to cross the link. You waited %s.`, ms(i.WantedAtMS), ms(i.HeardAtMS), ms(between(i.WantedAtMS, i.HeardAtMS)), ms(i.WaitedMS))
				if last := moment(r, story.LabelStory); i.HeardAtMS != nil && last.lastSent != nil && *i.HeardAtMS < *last.lastSent {
					text += " She heard you in the middle of her story"
					if answeredBeforeNextSentence(r, *i.HeardAtMS) {
						text += ", and answered before her next sentence"
					}
					text += "."
				}
				if walkieBefore && before.Summary.Interruption.WaitedMS != nil {
					text += fmt.Sprintf(" On the walkie-talkie, the same interruption waited %s.", ms(before.Summary.Interruption.WaitedMS))
				}
				return text, nil
			},
		},
		{
			Title: "Who may start talking",
			brief: `After her story grandma remembers something. Over HTTP she must wait to be
asked; on a WebSocket she just says it.`,
			moments: []string{story.LabelAfterthought},
			explain: `After her story, grandma remembers something and wants to say it without
being asked. Over HTTP a server can only answer requests, so she has to keep
it until the grandchild asks something again. Over a WebSocket either side
may start talking: she just says it.

Both calls now run at once, each on its own connection.`,
			demo: func(ctx context.Context, l *Teacher, n int) (string, error) {
				c, _, err := l.both(ctx, n, "who_may_start", "afterthought_waited_ms", "afterthought_heard_after_ms", "server_waiting_ms")
				if err != nil {
					return "", err
				}
				w, p := c.half.Summary.Afterthought, c.full.Summary.Afterthought
				return fmt.Sprintf(`Over HTTP, her afterthought waited %s for a request to answer. On the
phone it waited %s and was heard %s after she thought of it.`, ms(w.WaitedMS), ms(p.WaitedMS), ms(p.HeardAfterMS)), nil
			},
		},
		{
			Title: "Side by side",
			brief: `The same script on the same link, over HTTP and over a WebSocket: one table,
four swimlanes on one time axis.`,
			moments: []string{story.LabelInterruption, story.LabelAfterthought},
			explain: `Everything at once: the same script on the same link, over HTTP and over a
WebSocket. One table, and all four swimlanes on one time axis.`,
			demo: func(ctx context.Context, l *Teacher, n int) (string, error) {
				c, lanes, err := l.both(ctx, n)
				if err != nil {
					return "", err
				}
				fmt.Fprintln(l.Out)
				l.page.Lanes, l.page.Total = lanes.lanes, lanes.total
				if err := render.Swimlanes(l.Out, lanes.lanes, lanes.total, l.Style); err != nil {
					return "", err
				}
				w, p := c.half.Summary, c.full.Summary
				text := fmt.Sprintf(`The interruption was heard %s after it was wanted on the walkie-talkie,
and %s after on the phone. The phone paid %s once, up front, to open its
line (two round trips), the walkie-talkie %s (one). After that, on the
walkie-talkie the interruption waited %s for the channel and grandma %s for
a request to answer.`,
					ms(w.Interruption.HeardAfterMS), ms(p.Interruption.HeardAfterMS), ms(moment(c.full, story.LabelQuestion).waited),
					ms(moment(c.half, story.LabelQuestion).waited), ms(w.Interruption.WaitedMS), ms(w.Afterthought.WaitedMS))
				if q := moment(c.full, story.LabelQuestion).waited; q != nil && p.Client.WaitingMS-*q < 1 && p.Server.WaitingMS < 1 {
					text += " On the phone nothing waited again."
				}
				return text, nil
			},
		},
		{
			Title: "Workarounds before WebSocket",
			brief: `Before WebSocket, pages faked a server that speaks first. Polling asks
"anything new?" every so often; long polling holds each question open until
there is news; server-sent events stream one endless answer. All at once:`,
			explain: `Before WebSocket, web pages that needed the server to speak first faked it on
top of HTTP. Polling: the page asks "anything new?" every so often. Long
polling: the server holds the question open until it has something, and the
page asks again at once. Server-sent events: the server answers one request
with a stream that never ends, and the page sends its own words in separate
requests, on a second connection.

Every way at once, same script, same link: the walkie-talkie, the three
tricks, and the phone call.`,
			demo: func(ctx context.Context, l *Teacher, n int) (string, error) {
				if _, _, err := l.playAll(ctx, n, modes.Web(), workaroundMeasures, workaroundKey); err != nil {
					return "", err
				}
				p := l.latest[fullduplex.Mode().Key]
				poll, long, sse := l.latest[workarounds.Poll().Key].Summary, l.latest[workarounds.LongPoll().Key].Summary, l.latest[workarounds.SSE().Key].Summary
				return fmt.Sprintf(`Polling let grandma's afterthought through %s after she thought of it: it
waited for the next poll. It took %d requests, %d of them for nothing. Long
polling brought it in %s, with no empty answers, but kept a second
connection open. Server-sent events brought it in %s too, on a second
connection, sending %s up where the phone sent %s. Each trick buys back
some of what the phone does on one connection, and pays in requests,
connections or bytes.`,
					ms(poll.Afterthought.HeardAfterMS), fact(poll, "requests"), fact(poll, "empty_replies"), ms(long.Afterthought.HeardAfterMS),
					ms(sse.Afterthought.HeardAfterMS), byteCount(sse.Bytes.ClientToServer), byteCount(p.Summary.Bytes.ClientToServer)), nil
			},
		},
		{
			Title: "Is HTTP half duplex?",
			brief: `Is HTTP itself half duplex, or only request and answer? The same call on what
lies beneath: HTTP/1.1 in full duplex, HTTP/2's streams, WebTransport, raw TCP.`,
			explain: `So far HTTP has been the walkie-talkie. But the turns came from request and
answer as a browser uses them: the answer comes after the request. Is HTTP
itself half duplex?

Beneath it, on the same link: raw TCP, lines both ways and no protocol at
all; HTTP/1.1 with one request streamed up while its answer streams down,
when both ends agree to; HTTP/2, the call on one stream and the urgent line
on a stream of its own, on one connection; and WebTransport, two-way streams
over QUIC, which a browser can use. The walkie-talkie plays beside them.`,
			demo: beneath,
		},
		{
			Title: "Full duplex is not the end of waiting",
			brief: `A big message fills its direction of a slow link for bytes × 8 / rate; what is
sent after it waits (head-of-line blocking). Full duplex frees the other way.`,
			explain: `A link carries so many bits per second each way: its bandwidth. A message of
N bytes fills its direction for N × 8 / rate, and what is sent after it waits
behind it: head-of-line blocking. Full duplex means the other direction is
free, not that your own is.

Just before she interrupts, the grandchild sends grandma a photo, on a slow
link. On the phone (one WebSocket) the interruption follows it. HTTP/2 and
WebTransport can send it on a stream of its own: HTTP/2's streams still share
one TCP connection, which delivers bytes in order; QUIC's streams are
independent, but share the link.`,
			demo: photoDemo,
		},
		{
			Title:   "Where this matters",
			heading: "About these numbers",
			brief: `Taking turns costs little when one side only asks. It costs a lot when both
sides have something to say at any moment.`,
			explain: `Taking turns costs little when one side only asks and the other only
answers, as when a browser loads a page. It costs a lot when both sides
have something to say at any moment.`,
			demo: func(ctx context.Context, l *Teacher, n int) (string, error) {
				walkie, ok1 := l.latest[halfduplex.Mode().Key]
				phone, ok2 := l.latest[fullduplex.Mode().Key]
				if !ok1 || !ok2 {
					c, _, err := l.both(ctx, n)
					if err != nil {
						return "", err
					}
					walkie, phone = c.half, c.full
					fmt.Fprintln(l.Out)
				}
				w, p := walkie.Summary, phone.Summary
				l.page.Notes = fmt.Sprintf(`- Collaborative editing: a co-author's change reaches you %s after they
make it over the phone, but %s later when it has to wait for the channel, as
the interruption did. For that long you keep typing into an old copy of the
document.

- Multiplayer games: positions flow both ways all the time. A move that waits
%s for the channel arrives after the moment it described.

- Auctions: a last-second bid must reach the auctioneer before the hammer
falls. Waiting %s for the channel can lose it.

- Chat: a message should appear when it is sent, not when the other side next
asks. Grandma's afterthought waited %s over HTTP and %s on the phone.`,
					ms(p.Interruption.HeardAfterMS), ms(w.Interruption.HeardAfterMS), ms(w.Interruption.WaitedMS),
					ms(w.Interruption.WaitedMS), ms(w.Afterthought.WaitedMS), ms(p.Afterthought.WaitedMS))
				fmt.Fprintf(l.Out, "%s\n", wrap(l.page.Notes, l.Style.Width))
				text := `These numbers are the ones measured in this lesson, on this machine, over
an emulated link.`
				if l.Latency < 150*time.Millisecond {
					text += ` Try --latency 150ms: the walkie-talkie's interruption waits longer, while the
phone pays the latency once per message.`
				}
				return text, nil
			},
		},
	}
}

// byteCount formats a byte count, its unit joined to it.
func byteCount(n int64) string { return fmt.Sprintf("%d%sB", n, nbsp) }

// workaroundKey are the rows of that table that matter most, for a screen
// with no room for all.
var workaroundKey = []string{"interruption_heard_after_ms", "afterthought_heard_after_ms", "requests", "connections"}

// endsKey are the rows of the walkie and phone's table that matter most.
var endsKey = []string{"interruption_waited_ms", "interruption_heard_after_ms", "afterthought_waited_ms", "afterthought_heard_after_ms"}

// interruptionQuestion asks when grandma will hear the interruption, how
// the chapter's call goes; its answer explains the number from the call.
func interruptionQuestion(how string) *question {
	return &question{
		ask: func(s story.Script) string {
			at := float64(s.InterruptAt) / float64(time.Millisecond)
			return fmt.Sprintf("The grandchild wants to interrupt at %s. How long after that will grandma hear her, %s?", ms(&at), how)
		},
		answer: interruptionAnswer,
	}
}

// interruptionAnswer reads how long after it was wanted the interruption
// was heard, and explains it: what it waited for, then one crossing of the
// link.
func interruptionAnswer(r report.Call, latency time.Duration) Answer {
	i := r.Summary.Interruption
	a := Answer{MS: between(i.WantedAtMS, i.HeardAtMS)}
	in := moment(r, story.LabelInterruption)
	if i.WantedAtMS == nil || in.sent == nil || in.heard == nil {
		a.Why = "Grandma never heard it: the call ended first."
		return a
	}
	left, told := 0, 0
	for _, e := range r.Events {
		if e.Kind == "send" && e.Label == story.LabelStory {
			told++
			if e.TMS >= *i.WantedAtMS {
				left++
			}
		}
	}
	crossing := *in.heard - *in.sent
	lat := float64(latency) / float64(time.Millisecond)
	link := fmt.Sprintf("crossing the link took %s: one latency (%s)", ms(&crossing), ms(&lat))
	if more := math.Round(crossing) - math.Round(lat); more >= 1 && r.Link != nil {
		// A link with a bandwidth or jitter: the line's own time on it.
		why := "the line's time on a link of limited bandwidth"
		switch {
		case r.Link.BandwidthBPS == 0:
			why = "the link's jitter"
		case r.Link.JitterMS > 0:
			why += ", and its jitter"
		}
		link = fmt.Sprintf("crossing the link took %s: one latency (%s) and %s more, %s", ms(&crossing), ms(&lat), ms(&more), why)
	}
	if w := i.WaitedMS; w != nil && *w >= 1 {
		a.Why = fmt.Sprintf("It waited %s for the channel: when the grandchild wanted to speak, grandma still had %d of her %d sentences to send, and the one connection was hers until the last of them had arrived. Then %s.", ms(w), left, told, link)
		return a
	}
	a.Why = fmt.Sprintf("Nothing stood in the way: it left at once, while grandma still had %d of her %d sentences to send, and %s.", left, told, link)
	return a
}

// between returns the time from a to b as the narration's own numbers
// give it: the difference of the two rounded to whole milliseconds, so that
// "wanted at 601 ms, heard at 1454 ms" goes with "853 ms later" (the
// measured 853.6 would round to 854). nil if either never happened.
func between(a, b *float64) *float64 {
	if a == nil || b == nil {
		return nil
	}
	d := math.Round(*b) - math.Round(*a)
	return &d
}

// workaroundMeasures are the rows of the table of every mode: what each
// trick buys (when the interruption and the afterthought were heard) and
// what it costs (requests, empty polls, connections, bytes).
var workaroundMeasures = []string{
	"transport", "interruption_heard_after_ms", "afterthought_heard_after_ms", "requests", "empty_replies",
	"connections", "bytes_client_to_server", "bytes_server_to_client",
}

// fact returns the value of a mode's own fact, 0 if it keeps none.
func fact(s report.Summary, key string) int {
	f, _ := s.Fact(key)
	return int(f.Value)
}

// pair is the two ends of the lesson, played side by side.
type pair struct{ half, full report.Call }

// both runs the walkie and the phone at once and prints their comparison
// table, only the given measures if any; it returns both reports and the
// lanes for chapters that draw them.
func (l *Teacher) both(ctx context.Context, n int, only ...string) (pair, axis, error) {
	fmt.Fprintln(l.Out, "(a walkie call and a phone call are running, side by side)")
	results, err := modes.RunAll(ctx, l.config, []call.Mode{halfduplex.Mode(), fullduplex.Mode()})
	if err != nil {
		return pair{}, axis{}, err
	}
	c := pair{l.measured(n, results[0]), l.measured(n, results[1])}
	t := report.Compare(c.half, c.full)
	key := endsKey
	if len(only) > 0 {
		t, key = t.Only(only...), nil
	}
	if l.page != nil {
		l.page.Table, l.page.Key = &t, key
	}
	fmt.Fprintln(l.Out)
	if err := render.Compare(l.Out, t, l.Style); err != nil {
		return c, axis{}, err
	}
	lanes, total := render.CallLanes([]string{c.half.Mode, c.full.Mode}, []*timeline.Timeline{results[0].Timeline, results[1].Timeline})
	if l.page != nil {
		l.page.Lanes, l.page.Total = lanes, total
	}
	return c, axis{lanes, total}, nil
}

// axis is a set of lanes and the length of the time axis they share.
type axis struct {
	lanes []render.Lane
	total time.Duration
}

// when is the measured life of a line, or of the first and last parts of
// an utterance, in milliseconds; nil where it did not happen.
type when struct {
	sent, heard, waited, lastSent *float64
}

// moment finds, among r's events, the line with label: when its first part
// was sent and heard, how long it waited, and when its last part was sent.
func moment(r report.Call, label string) when {
	var w when
	for _, e := range r.Events {
		if e.Label != label {
			continue
		}
		t := e.TMS
		switch e.Kind {
		case "send":
			if w.sent == nil {
				w.sent, w.waited = &t, e.WaitedMS
			}
			w.lastSent = &t
		case "heard":
			if w.heard == nil {
				w.heard = &t
			}
		}
	}
	return w
}

// answeredBeforeNextSentence says whether grandma's answer went out before
// the first sentence of her story sent after she heard the interruption at
// heard.
func answeredBeforeNextSentence(r report.Call, heard float64) bool {
	answer, next := -1.0, -1.0
	for _, e := range r.Events {
		if e.Kind != "send" || e.TMS < heard {
			continue
		}
		if e.Label == story.LabelAnswer && answer < 0 {
			answer = e.TMS
		}
		if e.Label == story.LabelStory && next < 0 {
			next = e.TMS
		}
	}
	return answer >= 0 && (next < 0 || answer <= next)
}
