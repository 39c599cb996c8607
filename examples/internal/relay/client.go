package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duplexdemo/duplexdemo/pkg/link"
)

// Client is one participant: it sends messages, and receives everyone
// else's.
type Client struct {
	hub  *Hub
	name string
	base string

	cancel context.CancelFunc
	done   sync.WaitGroup

	// Poll and LongPoll: http posts, and polls with Poll.
	http *http.Client
	// LongPoll: the connection whose request waits on the server.
	wait *http.Client
	// Push: the writer goroutine takes messages from out.
	out chan posted

	mu         sync.Mutex
	received   []Message
	deliveries int
	closed     bool
}

func newClient(join context.Context, h *Hub, name string, index int) (*Client, error) {
	cfg := h.cfg
	// One link for all the client's connections, as one home's line.
	dialer := &link.Dialer{Latency: cfg.Latency, Bandwidth: cfg.Bandwidth, Jitter: cfg.Jitter, Seed: cfg.Seed + uint64(index), Meter: new(link.Meter)}
	// The client lives until Close, whatever becomes of join's context.
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{hub: h, name: name, base: "http://" + h.ln.Addr().String(), cancel: cancel}
	switch cfg.Transport {
	case Poll:
		c.http = &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext, MaxConnsPerHost: 1}}
		c.done.Add(1)
		go func() {
			defer c.done.Done()
			c.poll(ctx)
		}()
	case LongPoll:
		c.http = &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext, MaxConnsPerHost: 1}}
		c.wait = &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext, MaxConnsPerHost: 1}}
		c.done.Add(1)
		go func() {
			defer c.done.Done()
			c.longPoll(ctx)
		}()
	case Push:
		d := &websocket.Dialer{NetDialContext: dialer.DialContext, HandshakeTimeout: 5*time.Second + 2*cfg.Latency}
		u := strings.Replace(c.base, "http://", "ws://", 1) + "/ws?name=" + url.QueryEscape(name)
		conn, _, err := d.DialContext(join, u, nil)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("relay: %s joining: %w", name, err)
		}
		conn.SetReadLimit(maxEncoded(cfg.maxMessage()))
		c.out = make(chan posted, 256)
		c.done.Add(2)
		go func() { // the only reader
			defer c.done.Done()
			defer cancel()
			for {
				var p posted
				if err := conn.ReadJSON(&p); err != nil {
					return
				}
				c.receive([]posted{p})
			}
		}()
		go func() { // the only writer
			defer c.done.Done()
			defer conn.Close()
			for {
				select {
				case p := <-c.out:
					// The link queues what is written and never blocks,
					// so the deadline bounds a stuck socket, not a slow
					// link.
					_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
					if conn.WriteJSON(p) != nil {
						return
					}
				case <-ctx.Done():
					_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
					return
				}
			}
		}()
	}
	return c, nil
}

// Name is the client's name.
func (c *Client) Name() string { return c.name }

// Send sends data to everyone else, and returns when it was sent on the
// hub's clock.
//
// Polled or long-polled, it is an HTTP post and returns once the server
// answered it; pushed, it queues data for the WebSocket's writer and
// returns at once. Data longer than the Config's MaxMessage is refused.
func (c *Client) Send(ctx context.Context, data string) (time.Duration, error) {
	sent := c.hub.Now()
	if n := c.hub.cfg.maxMessage(); len(data) > n {
		return sent, fmt.Errorf("relay: %s sending %d bytes: a message may be at most %d", c.name, len(data), n)
	}
	switch c.hub.cfg.Transport {
	case Poll, LongPoll:
		q := url.Values{"from": {c.name}, "sent_ns": {strconv.FormatInt(int64(sent), 10)}}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/send?"+q.Encode(), strings.NewReader(data))
		if err != nil {
			return sent, err
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return sent, fmt.Errorf("relay: %s sending: %w", c.name, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			return sent, fmt.Errorf("relay: %s sending: %s", c.name, resp.Status)
		}
	case Push:
		select {
		case c.out <- posted{Data: data, SentNS: int64(sent)}:
		case <-ctx.Done():
			return sent, ctx.Err()
		}
	}
	return sent, nil
}

// poll asks for new messages every Every until the client is closed.
func (c *Client) poll(ctx context.Context) {
	seen := 0
	t := time.NewTicker(c.hub.cfg.Every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		got, err := c.fetch(ctx, c.http, "/since?n="+strconv.Itoa(seen)+"&name="+url.QueryEscape(c.name))
		if err != nil {
			continue // the hub is closing, or the link dropped a poll
		}
		seen = max(seen, c.receive(got))
	}
}

// longPoll keeps a request for new messages waiting on the server, and
// asks again the moment it is answered, until the client is closed.
func (c *Client) longPoll(ctx context.Context) {
	seen := 0
	for {
		got, err := c.fetch(ctx, c.wait, "/wait?n="+strconv.Itoa(seen)+"&name="+url.QueryEscape(c.name))
		if err != nil {
			// The hub is closing, or the link dropped the request: ask
			// again a little later, not in a tight loop.
			t := time.NewTimer(retryAfter)
			select {
			case <-t.C:
				continue
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
		seen = max(seen, c.receive(got))
	}
}

// retryAfter is how long a long-polling client waits to ask again after a
// request failed.
const retryAfter = 100 * time.Millisecond

// fetch GETs path from the hub with hc and returns the messages in its
// answer, all of which were read when it returns.
func (c *Client) fetch(ctx context.Context, hc *http.Client, path string) ([]posted, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("relay: %s polling: %s", c.name, resp.Status)
	}
	var got []posted
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxEncoded(c.hub.cfg.maxBatch()+c.hub.cfg.maxMessage()))).Decode(&got); err != nil {
		return nil, err
	}
	return got, nil
}

// receive notes the messages of one read, from others, as received now,
// and returns the highest Seq among them all (0 for none).
func (c *Client) receive(batch []posted) int {
	now := c.hub.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(batch) > 0 {
		c.deliveries++
	}
	last := 0
	for _, p := range batch {
		last = max(last, p.Seq)
		if p.From == c.name {
			continue
		}
		c.received = append(c.received, Message{Seq: p.Seq, From: p.From, Data: p.Data, SentAt: time.Duration(p.SentNS),
			PostedAt: time.Duration(p.PostedNS), ReceivedAt: now, Delivery: c.deliveries})
	}
	return last
}

// Received returns what the client has received so far, in order.
func (c *Client) Received() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message(nil), c.received...)
}

// Latest returns the last message received from someone else, and whether
// there was one.
func (c *Client) Latest() (Message, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.received) == 0 {
		return Message{}, false
	}
	return c.received[len(c.received)-1], true
}

// Close disconnects the client and waits for its goroutines.
func (c *Client) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.done.Wait()
	for _, hc := range []*http.Client{c.http, c.wait} {
		if hc != nil {
			hc.CloseIdleConnections()
		}
	}
}
