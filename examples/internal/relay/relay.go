// Package relay passes messages from each client to all the others through
// a server, for the examples of what needs full duplex: collaborative
// editing, auctions, chat. The server learns a message the moment a client
// posts it; how soon the others learn it depends on the transport:
//
//   - Poll: each client asks "anything new?" every Every, as pages did
//     before WebSocket; a message waits on the server for the next poll;
//   - Push: each client keeps a WebSocket open and the server pushes each
//     message the moment it has it (one reader and one writer goroutine
//     per connection on each side).
//
// Every client's connections go through an emulated link (package link), and
// every message is stamped on one monotonic clock when it was sent and when
// each client received it, so that the examples measure what they show.
package relay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Transport is how the server passes messages on.
type Transport int

const (
	// Poll: clients ask for new messages every Config.Every.
	Poll Transport = iota
	// Push: the server pushes each message on a WebSocket at once.
	Push
)

// String returns "poll" or "push".
func (t Transport) String() string {
	if t == Push {
		return "push"
	}
	return "poll"
}

// MaxMessage bounds a message, in bytes.
const MaxMessage = 4 << 10

// Config says how a Hub relays.
type Config struct {
	Transport Transport
	// Every is the polling period, for Poll.
	Every time.Duration
	// Latency is the emulated one-way delay of every client's link.
	Latency time.Duration
}

// Message is one message, as a client received it.
type Message struct {
	// Seq numbers the messages in the order the server got them, from 1.
	Seq  int
	From string
	Data string
	// SentAt is when its sender posted it; ReceivedAt when this client
	// had read it; both on the hub's clock.
	SentAt, ReceivedAt time.Duration
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
}

// Start starts a hub on a free port of 127.0.0.1. The caller must Close it.
func Start(cfg Config) (*Hub, error) {
	if cfg.Transport == Poll && (cfg.Every < time.Millisecond || cfg.Every > time.Minute) {
		return nil, fmt.Errorf("relay: polling every %v: want 1ms to 1m", cfg.Every)
	}
	if cfg.Latency < 0 || cfg.Latency > 5*time.Second {
		return nil, fmt.Errorf("relay: latency %v: want 0 to 5s", cfg.Latency)
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
	c, err := newClient(ctx, h, name)
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
