// Package relay passes messages from each client to all the others through
// a server, for the examples of what needs full duplex: collaborative
// editing, auctions, chat, a game, a whiteboard. The server learns a message
// the moment a client posts it; how soon the others learn it depends on the
// transport:
//
//   - Poll: each client asks "anything new?" every Every, as pages did
//     before WebSocket; a message waits on the server for the next poll.
//     A client's posts and polls take turns on its one connection;
//   - LongPoll: each client keeps one request waiting on the server, which
//     answers it the moment it has something new; the client then asks
//     again. Posts go on a second connection, as a page's would;
//   - Push: each client keeps a WebSocket open and the server pushes each
//     message the moment it has it (one reader and one writer goroutine
//     per connection on each side).
//
// Every client's connections go through an emulated link (package link) of
// the Config's profile, one link per client that all its connections share,
// as a home's connections share its line; and every message is stamped on
// one monotonic clock when it was sent, when the server had it and when
// each client received it, so that the examples measure what they show.
package relay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/link"
)

// Transport is how the server passes messages on.
type Transport int

const (
	// Poll: clients ask for new messages every Config.Every.
	Poll Transport = iota
	// Push: the server pushes each message on a WebSocket at once.
	Push
	// LongPoll: clients keep a request waiting, answered at once with
	// whatever is new.
	LongPoll
)

// String returns "poll", "push" or "longpoll".
func (t Transport) String() string {
	switch t {
	case Push:
		return "push"
	case LongPoll:
		return "longpoll"
	}
	return "poll"
}

// Bounds on a message's data, in bytes.
const (
	// MaxMessage is the bound when Config.MaxMessage is 0: a chat line, a
	// bid, a stroke.
	MaxMessage = 4 << 10
	// MaxMessageLimit bounds Config.MaxMessage: a pasted image, not a
	// film.
	MaxMessageLimit = 8 << 20
)

// Config says how a Hub relays.
type Config struct {
	Transport Transport
	// Every is the polling period, for Poll.
	Every time.Duration
	// Latency is the emulated one-way delay of every client's link.
	Latency time.Duration
	// Bandwidth, Jitter and Seed are the rest of every client's link's
	// profile (see link.Profile); their zero values mean no limit and no
	// jitter. Client i, from 0 in the order they joined, draws its jitter
	// with seed Seed+i, so that two clients' links do not jitter alike.
	Bandwidth link.Rate
	Jitter    time.Duration
	Seed      uint64
	// MaxMessage bounds a message's data, in bytes; 0 means MaxMessage.
	MaxMessage int
}

// maxMessage returns the bound on a message's data.
func (cfg Config) maxMessage() int {
	if cfg.MaxMessage == 0 {
		return MaxMessage
	}
	return cfg.MaxMessage
}

// maxBatch bounds the data of the messages one poll answers with: a poll
// far behind catches up over several.
func (cfg Config) maxBatch() int { return max(1<<20, cfg.maxMessage()) }

// maxEncoded bounds a message or a poll's answer of data bytes on the
// wire: JSON writes a byte in at most six ("\u001f"), and its fields take
// less than 1 KiB more.
func maxEncoded(data int) int64 { return 6*int64(data) + 1<<10 }

// Message is one message, as a client received it.
type Message struct {
	// Seq numbers the messages in the order the server got them, from 1.
	Seq  int
	From string
	Data string
	// SentAt is when its sender posted it; PostedAt when the server had
	// all of it; ReceivedAt when this client had read it; all on the hub's
	// clock.
	SentAt, PostedAt, ReceivedAt time.Duration
	// Delivery numbers, from 1, the reads that brought this client
	// messages: the messages one poll's answer brought share one; a
	// pushed message is a delivery of its own.
	Delivery int
}

// Hub is a relay server on 127.0.0.1 and the clock its clients share.
type Hub struct {
	cfg   Config
	start time.Time
	ln    net.Listener
	srv   *server
	stop  func() error

	mu      sync.Mutex
	clients []*Client
	joined  int // clients that joined or tried to: the next one's index
}

// Start starts a hub on a free port of 127.0.0.1. The caller must Close it.
func Start(cfg Config) (*Hub, error) {
	if cfg.Transport == Poll && (cfg.Every < time.Millisecond || cfg.Every > time.Minute) {
		return nil, fmt.Errorf("relay: polling every %v: want 1ms to 1m", cfg.Every)
	}
	if cfg.Latency < 0 || cfg.Latency > 5*time.Second {
		return nil, fmt.Errorf("relay: latency %v: want 0 to 5s", cfg.Latency)
	}
	if cfg.Bandwidth != 0 && (cfg.Bandwidth < link.MinRate || cfg.Bandwidth > link.MaxRate) {
		return nil, fmt.Errorf("relay: bandwidth %v: want %v to %v, or 0 for unlimited", cfg.Bandwidth, link.MinRate, link.MaxRate)
	}
	if cfg.Jitter < 0 || cfg.Jitter > 5*time.Second {
		return nil, fmt.Errorf("relay: jitter %v: want 0 to 5s", cfg.Jitter)
	}
	if cfg.MaxMessage < 0 || cfg.MaxMessage > MaxMessageLimit {
		return nil, fmt.Errorf("relay: messages of up to %d bytes: want at most %d, or 0 for %d", cfg.MaxMessage, MaxMessageLimit, MaxMessage)
	}
	if cfg.Transport < Poll || cfg.Transport > LongPoll {
		return nil, fmt.Errorf("relay: unknown transport %d", cfg.Transport)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	h := &Hub{cfg: cfg, start: time.Now(), ln: ln}
	h.srv = newServer(h)
	h.stop = h.srv.serve(ln)
	return h, nil
}

// Now is the hub's clock: the time since it started.
func (h *Hub) Now() time.Duration { return time.Since(h.start) }

// SleepUntil blocks until the hub's clock reads at, or ctx ends.
func (h *Hub) SleepUntil(ctx context.Context, at time.Duration) error {
	t := time.NewTimer(max(at-h.Now(), 0))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Join connects a client called name. It receives every message the
// others send from now on, on Received, until it or the hub is closed.
func (h *Hub) Join(ctx context.Context, name string) (*Client, error) {
	if name == "" || len(name) > 64 {
		return nil, errors.New("relay: a client needs a name of 1 to 64 bytes")
	}
	h.mu.Lock()
	index := h.joined
	h.joined++
	h.mu.Unlock()
	c, err := newClient(ctx, h, name, index)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.clients = append(h.clients, c)
	h.mu.Unlock()
	return c, nil
}

// Close disconnects every client and stops the server, leaving nothing
// running.
func (h *Hub) Close() error {
	h.mu.Lock()
	clients := h.clients
	h.clients = nil
	h.mu.Unlock()
	for _, c := range clients {
		c.Close()
	}
	return h.stop()
}
