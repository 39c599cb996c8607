// Package workarounds plays the call the ways web pages faked a channel on
// which the server may speak first, before WebSocket, all on HTTP/1.1. In
// each, the grandchild says her lines in POST requests; grandma keeps what
// she wants to say until the trick lets it go:
//
//   - polling (Run): a GET "anything new?" every so often takes it, on the
//     one connection;
//   - long polling (RunLong): a GET held open until she has something; a
//     new one goes out at once after each answer; the posts take a second
//     connection;
//   - server-sent events (RunSSE): one GET answered with an endless
//     text/event-stream, on which she says each line the moment she wants
//     to; the posts take a second connection: a channel each way.
//
// Every wait on the timeline is measured: grandma's line is sent when a
// response starts writing it; a grandchild's line is sent when the
// transport hands its request a connection (httptrace's GotConn).
package workarounds

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

const (
	// SayPath is where the grandchild posts her lines.
	SayPath = "/say"
	// PollPath is where she asks for grandma's.
	PollPath = "/poll"
	// EventsPath is where she opens grandma's event stream.
	EventsPath = "/events"
	// MaxMessage is the largest line either side accepts, in bytes.
	MaxMessage = 4 << 10
	// MaxAnswer bounds one poll's answer.
	MaxAnswer = 64 << 10
	// Transport describes what carries the call.
	Transport = "HTTP/1.1 polling, one TCP connection"
	// TransportLong describes what carries a call by long polling.
	TransportLong = "HTTP/1.1 long polling, two TCP connections"
	// TransportSSE describes what carries a call with server-sent events.
	TransportSSE = "HTTP/1.1 server-sent events down, POSTs up, two TCP connections"
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
	// ReasonChannelBusy is why the grandchild waits: a poll has the one
	// connection.
	ReasonChannelBusy = "channel busy"
	// ReasonConnecting is why her first line waits: the connection is being
	// opened.
	ReasonConnecting = "connecting"

	responseHeaderTimeout = 10 * time.Second
)

// Run plays one call by polling every `every` (long polling when every is
// 0: see RunLong) and returns what it measured:
// besides the timeline, how many requests it took, how many polls came
// back empty, and the bytes those spent on nothing. Grandma serves on
// cfg.Listener; Run returns when the grandchild has heard the farewell, or
// when ctx ends, leaving nothing running.
func Run(ctx context.Context, cfg call.Config, every time.Duration) (*call.Result, error) {
	if every < MinEvery || every > MaxEvery {
		return nil, &story.OptionError{Option: "every", Value: every.String(), Want: fmt.Sprintf("must be from %v to %v", MinEvery, MaxEvery)}
	}
	return run(ctx, cfg, every)
}

// RunLong plays one call by long polling: the grandchild's poll is held
// open until grandma has something to say, and a new one goes out the
// moment each answer is heard. Grandma still cannot speak while no poll is
// waiting: between an answer and the next poll's arrival, a round trip of
// the link. The posts go on a second connection, since the held poll keeps
// the first.
func RunLong(ctx context.Context, cfg call.Config) (*call.Result, error) {
	return run(ctx, cfg, 0)
}

// RunSSE plays one call with server-sent events: the grandchild opens an
// event stream (GET EventsPath) on which grandma says each line the moment
// she wants to, and says her own lines in POSTs on a second connection.
func RunSSE(ctx context.Context, cfg call.Config) (*call.Result, error) {
	return run(ctx, cfg, -1)
}

// run plays one call: polling every `every`; long polling for 0; an event
// stream for -1.
func run(ctx context.Context, cfg call.Config, every time.Duration) (*call.Result, error) {
	long := every == 0
	streamed := every < 0
	c, err := call.Start(cfg)
	if err != nil {
		return nil, err
	}
	defer context.AfterFunc(ctx, c.Abort)()
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	g := newGrandma(cfg.Script, c.Rec)
	g.long, g.streamed = long, streamed
	stop := c.Serve(ctx, g)
	thinking := make(chan struct{})
	go func() {
		defer close(thinking)
		g.think(ctx)
	}()

	tr := &http.Transport{
		DialContext:           c.DialContext,
		MaxConnsPerHost:       conns(long || streamed),
		MaxIdleConnsPerHost:   conns(long || streamed),
		IdleConnTimeout:       c.Silence(call.IdleTimeout),
		ResponseHeaderTimeout: responseHeaderTimeout + c.RoundTrip(),
	}
	kid := &grandchild{
		script:   cfg.Script,
		rec:      c.Rec,
		client:   &http.Client{Transport: tr},
		base:     "http://" + c.Listener.Addr().String(),
		every:    max(every, 0),
		streamed: streamed,
		meter:    c.Dialer.Meter,
		progress: story.NewProgress(cfg.Script),
	}
	err = kid.call(ctx)
	cancel()
	tr.CloseIdleConnections()
	<-thinking
	if serr := stop(); err == nil {
		err = serr
	}
	if parent.Err() != nil {
		err = parent.Err()
	}
	res := c.Finish("poll", Transport, false)
	switch {
	case long:
		res.Mode, res.Transport = "longpoll", TransportLong
		res.NoPollGaps, res.NoPollTime = g.noPoll()
	case streamed:
		res.Mode, res.Transport, res.ServerMayStart = "sse", TransportSSE, true
	}
	res.Requests, res.EmptyReplies, res.EmptyBytes = kid.counts()
	return res, err
}

// utterance is a line someone wants to say, and the message it was
// recorded as.
type utterance struct {
	id   timeline.MsgID
	text string
}

// conns is how many connections the grandchild may open: one for polling,
// as the walkie; two when a held poll or the event stream keeps one.
func conns(two bool) int {
	if two {
		return 2
	}
	return 1
}
