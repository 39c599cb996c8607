// Package workarounds plays the call the ways web pages faked a channel on
// which the server may speak first, before WebSocket, all on HTTP/1.1. In
// each, the grandchild says her lines in POST requests; grandma keeps what
// she wants to say until the trick lets it go:
//
//   - polling (Poll): a GET "anything new?" every so often takes it, on the
//     one connection;
//   - long polling (LongPoll): a GET held open until she has something; a
//     new one goes out at once after each answer; the posts take a second
//     connection;
//   - server-sent events (SSE): one GET answered with an endless
//     text/event-stream, on which she says each line the moment she wants
//     to; the posts take a second connection: a channel each way.
//
// Every wait on the timeline is measured: grandma's line is sent when a
// response starts writing it; a grandchild's line is sent when the
// transport hands its request a connection (httptrace's GotConn).
package workarounds

import (
	"cmp"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

const (
	// SayPath is where the grandchild posts her lines.
	SayPath = "/say"
	// PollPath is where she asks for grandma's.
	PollPath = "/poll"
	// EventsPath is where she opens grandma's event stream.
	EventsPath = "/events"
	// HoldFor bounds how long grandma holds a long poll with nothing to
	// say before answering it empty.
	HoldFor = 20 * time.Second

	// DefaultEvery is how often the grandchild polls unless told otherwise.
	DefaultEvery = 300 * time.Millisecond
	// MinEvery and MaxEvery bound the polling period.
	MinEvery = 10 * time.Millisecond
	MaxEvery = 5 * time.Second

	// ReasonNextPoll is why grandma waits: she can speak only in the answer
	// to a poll.
	ReasonNextPoll = "no poll yet"
	// ReasonNoStream is why grandma waits with server-sent events: the
	// grandchild has not opened the stream yet.
	ReasonNoStream = "no stream yet"

	responseHeaderTimeout = 10 * time.Second
)

// trick is one of the three ways to fake a channel on which grandma may
// speak first.
type trick int

const (
	polling trick = iota
	longPolling
	streaming
)

// Poll is polling: a GET "anything new?" every Config.Every, on the one
// connection. Besides the timeline it counts the requests, the polls that
// came back empty, and the bytes those spent on nothing.
func Poll() call.Mode {
	return call.Mode{
		Mode: result.Mode{Key: "poll", Name: "polling", Transport: "HTTP/1.1 polling, one TCP connection"},
		Title: func(cfg call.Config) string {
			return fmt.Sprintf("POLLING: HTTP/1.1, a poll every %v", cmp.Or(cfg.Every, DefaultEvery))
		},
		Help: call.Help{
			Short: `Polling, before WebSocket: the client asks "anything new?" on a timer`,
			Long: `poll plays the call the way web pages faked a server that speaks first,
before WebSocket: the grandchild posts her lines, and asks grandma for hers
with a GET every --every. Grandma cannot speak at all: every line she wants
to say, each sentence of her story included, waits for the next poll. The
summary counts the requests, the polls that brought nothing, and the bytes
they cost.`,
			Example: `  duplexdemo poll
  duplexdemo poll --every 1s
  duplexdemo poll --every 50ms --json`,
		},
		Every: &call.Bounds{Default: DefaultEvery, Min: MinEvery, Max: MaxEvery},
		Photo: true, // grandma reads a post as long as the photo
		Local: func(s *call.Session) call.Roles { return local(s, polling) },
	}
}

// LongPoll is long polling: the grandchild's poll is held open until
// grandma has something to say, and a new one goes out the moment each
// answer is heard. Grandma still cannot speak while no poll is waiting:
// between an answer and the next poll's arrival, a round trip of the link.
// The posts go on a second connection, since the held poll keeps the
// first.
func LongPoll() call.Mode {
	return call.Mode{
		Mode:  result.Mode{Key: "longpoll", Name: "long polling", Transport: "HTTP/1.1 long polling, two TCP connections"},
		Title: func(call.Config) string { return "LONG POLLING: HTTP/1.1, a poll held until grandma has something" },
		Help: call.Help{
			Short: "Long polling, before WebSocket: a request held open until the server has something",
			Long: `longpoll plays the call by long polling: the grandchild's poll is held open
by grandma until she has something to say, and a new poll goes out the
moment each answer arrives. No poll comes back empty, but grandma still
cannot speak while no poll is waiting: a line she wants between an answer
and the next poll's arrival waits a round trip of the link. The held poll
keeps one connection busy, so the grandchild's lines go on a second.`,
			Example: `  duplexdemo longpoll
  duplexdemo longpoll --latency 150ms
  duplexdemo longpoll --json`,
		},
		Photo: true, // grandma reads a post as long as the photo
		Local: func(s *call.Session) call.Roles { return local(s, longPolling) },
	}
}

// SSE is server-sent events: the grandchild opens an event stream (GET
// EventsPath) on which grandma says each line the moment she wants to, and
// says her own lines in POSTs on a second connection.
func SSE() call.Mode {
	return call.Mode{
		Mode: result.Mode{
			Key: "sse", Name: "server-sent events", Transport: "HTTP/1.1 server-sent events down, POSTs up, two TCP connections",
			ServerMayStart: true, // once the stream is open, she speaks when she likes
		},
		Title: func(call.Config) string { return "SERVER-SENT EVENTS: a stream down, POSTs up" },
		Help: call.Help{
			Short: "Server-sent events, before WebSocket: a stream down, POSTs up, two connections",
			Long: `sse plays the call with server-sent events: the grandchild opens an event
stream (text/event-stream) on which grandma says each line the moment she
wants to, and says her own lines in POST requests, which take a second
connection. Two one-way channels make a two-way call: the interruption
reaches grandma mid-story, and her afterthought goes at once, at the price of
a second connection and a request's headers for every line up.`,
			Example: `  duplexdemo sse
  duplexdemo sse --latency 150ms
  duplexdemo sse --json`,
		},
		Photo: true, // grandma reads a post as long as the photo
		Local: func(s *call.Session) call.Roles { return local(s, streaming) },
	}
}

// local sets up a call in this process by trick t.
func local(s *call.Session, t trick) call.Roles {
	g := newGrandma(s.Script, s.Rec)
	g.long, g.streamed = t == longPolling, t == streaming
	conns := 1 // polling has the one connection, as the walkie
	if t != polling {
		conns = 2 // a held poll or the event stream keeps one
	}
	tr := &http.Transport{
		DialContext:           s.DialContext,
		MaxConnsPerHost:       conns,
		MaxIdleConnsPerHost:   conns,
		IdleConnTimeout:       s.Silence(call.IdleTimeout),
		ResponseHeaderTimeout: responseHeaderTimeout + s.RoundTrip() + s.PhotoCrossing(),
	}
	if t == longPolling {
		// A held poll's answer starts only when grandma has something to
		// say, or after HoldFor.
		tr.ResponseHeaderTimeout += HoldFor
	}
	kid := &grandchild{
		script:   s.Script,
		rec:      s.Rec,
		client:   &http.Client{Transport: tr},
		base:     "http://" + s.Addr(),
		streamed: t == streaming,
	}
	if t == polling {
		kid.every = s.Every(DefaultEvery)
		kid.hearing = new(sync.Mutex)
	}
	return call.Roles{
		Grandma:    g,
		Think:      g.think,
		Grandchild: kid.call,
		Facts: func(*timeline.Timeline) []result.Fact {
			requests, empty, emptyBytes := kid.counts()
			facts := []result.Fact{{Key: "requests", Title: "HTTP requests", Value: float64(requests), Compared: true}}
			if t == streaming {
				return facts
			}
			facts = append(facts,
				result.Fact{Key: "empty_replies", Title: "polls with nothing", Value: float64(empty), Compared: true},
				result.Fact{Key: "empty_bytes", Title: "bytes on empty polls", Value: float64(emptyBytes), Unit: result.Bytes})
			if t == longPolling {
				gaps, gapTime := g.noPoll()
				facts = append(facts,
					result.Fact{Key: "no_poll_gaps", Title: "gaps with no poll", Value: float64(gaps)},
					result.Fact{Key: "no_poll_ms", Title: "time with no poll", Value: result.MS(gapTime), Unit: result.Millis})
			}
			return facts
		},
	}
}

// utterance is a line someone wants to say, and the message it was
// recorded as.
type utterance struct {
	id   timeline.MsgID
	text string
}
