// Package call holds what one call between the grandchild and grandma needs
// whatever carries it: its configuration, the shared clock it is recorded
// on, the emulated link the grandchild dials through, and the result.
// Packages halfduplex and fullduplex each carry a call over their transport.
package call

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/link"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// Config describes one call.
type Config struct {
	// Script is what both sides say, and when they want to say it.
	Script story.Script
	// Latency is the one-way delay of the emulated link, in each direction.
	// 0 means plain loopback.
	Latency time.Duration
	// Listener is where grandma answers. nil means a new TCP listener on
	// 127.0.0.1 with a port chosen by the system. The call closes it.
	Listener net.Listener
	// Dial makes the grandchild's connection to the Listener's address; nil
	// means a net.Dialer. Tests pass an in-memory network's dial.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Observer, if not nil, is told of each event as it happens.
	Observer timeline.Observer
}

// Result is what a call measured.
type Result struct {
	// Mode is "walkie" or "phone".
	Mode string
	// Transport describes what carried the call.
	Transport string
	// Latency is the emulated one-way latency.
	Latency time.Duration
	// Timeline is every event of the call.
	Timeline *timeline.Timeline
	// WireBytes counts every byte on the wire, headers and framing
	// included, indexed by the side that sent them.
	WireBytes [2]int64
	// Connections is how many connections the grandchild opened.
	Connections int
	// ServerMayStart says whether the transport lets grandma speak without
	// being asked: false for HTTP request/response, true for a WebSocket.
	ServerMayStart bool
	// Server is the grandma the call went to, when she was elsewhere (a
	// URL); empty when both sides ran in this process.
	Server string
	// Alignment is how grandma's clock was placed on the grandchild's, when
	// she was elsewhere; nil when both sides shared one clock.
	Alignment *timeline.Alignment
	// ServerLatency is the emulated link on grandma's side, when she was
	// elsewhere and had one (serve --latency), on top of Latency.
	ServerLatency time.Duration
	// Requests counts the HTTP requests the grandchild made (zero on the
	// phone); EmptyReplies and EmptyBytes, for a call by polling, the
	// polls that brought nothing and the bytes those spent, both ways.
	Requests, EmptyReplies int
	EmptyBytes             int64
	// NoPollGaps and NoPollTime count, for a call by long polling, the
	// stretches in which grandma held no poll and so could not speak,
	// the first before any poll arrived, and how long they lasted in all.
	NoPollGaps int
	NoPollTime time.Duration
}

// PayloadBytes returns the bytes of message text each side sent, indexed
// by side; the rest of WireBytes is protocol overhead.
func (r *Result) PayloadBytes() [2]int64 {
	var p [2]int64
	for _, m := range r.Timeline.Messages {
		if m.Sent {
			p[m.From] += int64(len(m.Text))
		}
	}
	return p
}

// Call is one call in progress: the recorder both sides share, the
// listener grandma answers on and the dialer the grandchild calls through.
type Call struct {
	// Rec records both sides, on the call's one clock.
	Rec *timeline.Recorder
	// Listener is where grandma answers.
	Listener net.Listener
	// Dialer is the grandchild's way in: the emulated link and its byte
	// counts. Dial through the Call's DialContext, which records it.
	Dialer *link.Dialer

	latency   time.Duration
	goodbyeAt time.Duration
	open      sync.WaitGroup // the grandchild's connections not yet closed

	mu    sync.Mutex
	conns []net.Conn // every connection the grandchild opened
}

// MaxLatency bounds the emulated latency: slower than this, a call would
// take minutes, and nobody waits that long in front of a class.
const MaxLatency = 5 * time.Second

// closeWait bounds how long Finish waits for the grandchild's HTTP or
// WebSocket client to close its connections before closing them itself.
const closeWait = time.Second

// Start validates cfg, starts the call's clock and opens grandma's listener.
// The caller must call Finish, which closes the listener.
func Start(cfg Config) (*Call, error) {
	if cfg.Latency < 0 || cfg.Latency > MaxLatency {
		return nil, &story.OptionError{Option: "latency", Value: cfg.Latency.String(), Want: fmt.Sprintf("must be from 0 (plain loopback) to %v", MaxLatency)}
	}
	if len(cfg.Script.Story) == 0 {
		return nil, fmt.Errorf("the script has no story: build it with story.New")
	}
	return start(cfg, timeline.NewRecorder(cfg.Observer), true)
}

// StartRemote prepares the grandchild's side of a call to a grandma on
// another machine (or another process): the emulated link on her
// connections, and a recorder of her side only, with the script's labels
// for grandma's lines. It listens on nothing.
func StartRemote(cfg Config) (*Call, error) {
	if cfg.Latency < 0 || cfg.Latency > MaxLatency {
		return nil, &story.OptionError{Option: "latency", Value: cfg.Latency.String(), Want: fmt.Sprintf("must be from 0 (plain loopback) to %v", MaxLatency)}
	}
	if len(cfg.Script.Story) == 0 {
		return nil, fmt.Errorf("the script has no story: build it with story.New")
	}
	return start(cfg, timeline.NewSideRecorder(timeline.Client, cfg.Script.LineLabel, cfg.Observer), false)
}

func start(cfg Config, rec *timeline.Recorder, listen bool) (*Call, error) {
	ln := cfg.Listener
	if ln == nil && listen {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("grandma cannot listen on 127.0.0.1: %w", err)
		}
	}
	c := &Call{Rec: rec, Listener: ln, latency: cfg.Latency, goodbyeAt: cfg.Script.GoodbyeAt}
	c.Dialer = &link.Dialer{
		Latency: cfg.Latency,
		Meter:   new(link.Meter),
		Dial:    cfg.Dial,
		OnClose: func() {
			c.Rec.Record(timeline.Client, timeline.KindClose, "hangs up the connection")
			c.open.Done()
		},
	}
	return c, nil
}

// Finish closes the listener, waits for the grandchild's connections to
// close (each is closed by its HTTP or WebSocket client as the call ends;
// any still open after closeWait is closed here), stops the clock and
// returns the result. serverMayStart says whether the transport lets
// grandma speak without being asked.
func (c *Call) Finish(mode, transport string, serverMayStart bool) *Result {
	// Closing stops new calls only; its error changes nothing measured.
	if c.Listener != nil {
		_ = c.Listener.Close()
	}
	closed := make(chan struct{})
	go func() {
		c.open.Wait()
		close(closed)
	}()
	t := time.NewTimer(closeWait + c.RoundTrip())
	select {
	case <-closed:
	case <-t.C:
		c.Abort()
		<-closed
	}
	t.Stop()
	m := c.Dialer.Meter
	return &Result{
		Mode:           mode,
		Transport:      transport,
		Latency:        c.latency,
		Timeline:       c.Rec.Finish(),
		WireBytes:      [2]int64{timeline.Client: m.Written(), timeline.Server: m.Read()},
		Connections:    m.Conns(),
		ServerMayStart: serverMayStart,
	}
}

// Abort closes every connection the grandchild opened at once, dropping
// bytes still in flight on the emulated link. Runs call it when their
// context ends, so that a cancelled call stops within a second however
// slow the link.
func (c *Call) Abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		_ = link.Abort(conn) // already closed is as good as closed
	}
}

// Silence returns how long a side may hear nothing on a connection before
// giving up on it: base, plus the longest silence the script can hold (all
// of it, up to the goodbye), plus a round trip of the emulated link.
func (c *Call) Silence(base time.Duration) time.Duration {
	return base + c.goodbyeAt + c.RoundTrip()
}

// RoundTrip returns how long one round trip over the emulated link adds:
// timeouts for anything that waits on the peer add it, so that a slow link
// is never mistaken for a dead peer.
func (c *Call) RoundTrip() time.Duration { return 2 * c.latency }

// DialContext opens the grandchild's connection through the emulated link
// and records it.
func (c *Call) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c.open.Add(1)
	conn, err := c.Dialer.DialContext(ctx, network, addr)
	if err != nil {
		c.open.Done()
		return nil, err
	}
	c.mu.Lock()
	c.conns = append(c.conns, conn)
	c.mu.Unlock()
	c.Rec.Record(timeline.Client, timeline.KindConnect, "opens a connection")
	return conn, nil
}

// FinishRemote is Finish for a call to a grandma elsewhere: it aligns her
// clock with the grandchild's, from the lines they exchanged, and joins her
// record of the call (hers, from wire.DecodeLog) with the grandchild's.
// server names her, for the result, and serverLatency is the emulated link
// on her side, as her record says. handOver is how many bytes her record
// took on the wire, framing included: they are not part of the
// conversation, so the byte counts leave them out.
func (c *Call) FinishRemote(mode, transport string, serverMayStart bool, server string, hers *timeline.Timeline, serverLatency time.Duration, handOver int64) (*Result, error) {
	res := c.Finish(mode, transport, serverMayStart)
	res.Server, res.ServerLatency = server, serverLatency
	res.WireBytes[timeline.Server] -= min(handOver, res.WireBytes[timeline.Server])
	if hers == nil {
		return res, fmt.Errorf("grandma at %s did not hand over her record of the call", server)
	}
	a, err := timeline.Align(res.Timeline, hers)
	if err != nil {
		return res, err
	}
	merged, err := timeline.Merge(res.Timeline, hers, a)
	if err != nil {
		return res, fmt.Errorf("grandma's record of the call does not fit the grandchild's: %w", err)
	}
	res.Timeline, res.Alignment = merged, &a
	return res, nil
}
