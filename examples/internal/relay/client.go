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

	// Poll
	http *http.Client
	// Push: the writer goroutine takes messages from out.
	out chan posted

	mu       sync.Mutex
	received []Message
	notify   chan struct{}
	closed   bool
}

func newClient(join context.Context, h *Hub, name string) (*Client, error) {
	dialer := &link.Dialer{Latency: h.cfg.Latency, Meter: new(link.Meter)}
	// The client lives until Close, whatever becomes of join's context.
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{hub: h, name: name, base: "http://" + h.ln.Addr().String(), cancel: cancel, notify: make(chan struct{}, 1)}
	switch h.cfg.Transport {
	case Poll:
		c.http = &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext, MaxConnsPerHost: 1}}
		c.done.Add(1)
		go func() {
			defer c.done.Done()
			c.poll(ctx)
		}()
	case Push:
		d := &websocket.Dialer{NetDialContext: dialer.DialContext, HandshakeTimeout: 5*time.Second + 2*h.cfg.Latency}
		u := strings.Replace(c.base, "http://", "ws://", 1) + "/ws?name=" + url.QueryEscape(name)
		conn, _, err := d.DialContext(join, u, nil)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("relay: %s joining: %w", name, err)
		}
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
				c.receive(p)
			}
		}()
		go func() { // the only writer
			defer c.done.Done()
			defer conn.Close()
			for {
				select {
				case p := <-c.out:
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
func (c *Client) Send(ctx context.Context, data string) (time.Duration, error) {
	sent := c.hub.Now()
	switch c.hub.cfg.Transport {
	case Poll:
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
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/since?n="+strconv.Itoa(seen), nil)
		if err != nil {
			return
		}
		resp, err := c.http.Do(req)
		if err != nil {
			continue // the hub is closing, or the link dropped a poll
		}
		var got []posted
		err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&got)
		resp.Body.Close()
		if err != nil {
			continue
		}
		for _, p := range got {
			seen = max(seen, p.Seq)
			c.receive(p)
		}
	}
}

// receive notes a message from someone else, as received now.
func (c *Client) receive(p posted) {
	if p.From == c.name {
		return
	}
	m := Message{Seq: p.Seq, From: p.From, Data: p.Data, SentAt: time.Duration(p.SentNS), ReceivedAt: c.hub.Now()}
	c.mu.Lock()
	c.received = append(c.received, m)
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
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
	if c.http != nil {
		c.http.CloseIdleConnections()
	}
}
