// Package link emulates a network link on a real connection: it delays the
// bytes written in each direction by a one-way latency, independently, and
// counts every byte that crosses it.
//
// Wrap one end of a connection (the client's, in this project). Bytes its
// application writes at t are written to the real connection at t+latency;
// bytes that arrive from the real connection at t become readable at
// t+latency. Bytes in flight never block the other direction, nor later
// writes: Write queues and returns at once, as a real link's sender does.
// A Dialer's connection is handed over only after the round trip a TCP
// handshake takes, 2×latency after dialing.
package link

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// readChunk is how much the read pump takes off the real connection at a
	// time.
	readChunk = 32 << 10
	// closeGrace is how long Close waits, past the last queued byte's due
	// time, for the real connection to take it before giving up on it.
	closeGrace = 500 * time.Millisecond
)

// Meter counts the bytes crossing all the connections wrapped with it, seen
// from the wrapped end. Its methods are safe for concurrent use.
type Meter struct {
	written, read, conns atomic.Int64
}

// Written returns the bytes written by the wrapped end (towards the peer).
func (m *Meter) Written() int64 { return m.written.Load() }

// Read returns the bytes that arrived from the peer.
func (m *Meter) Read() int64 { return m.read.Load() }

// Conns returns how many connections were wrapped.
func (m *Meter) Conns() int { return int(m.conns.Load()) }

// Counted is a connection wrapped in the link, which counts the bytes it
// carried each way as its Meter does: every connection Wrap returns is one.
type Counted interface {
	net.Conn
	// BytesWritten returns the bytes written by the wrapped end so far.
	BytesWritten() int64
	// BytesRead returns the bytes that arrived from the peer so far.
	BytesRead() int64
}

// counts are one connection's bytes, each way.
type counts struct{ written, read atomic.Int64 }

func (c *counts) BytesWritten() int64 { return c.written.Load() }
func (c *counts) BytesRead() int64    { return c.read.Load() }

// Dialer dials connections and wraps them in the emulated link.
type Dialer struct {
	// Latency is the one-way delay added in each direction; 0 means none.
	Latency time.Duration
	// Meter counts the bytes; it must not be nil.
	Meter *Meter
	// Dial makes the real connection; nil means a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// OnClose, if not nil, is called once when the owner of a wrapped
	// connection starts to close it, before the peer can notice.
	OnClose func()
}

// DialContext dials addr and returns the connection wrapped in the link,
// once its TCP handshake has taken the round trip it takes on a real link.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := d.DialTapped(ctx, network, addr, nil)
	if err != nil {
		return nil, err // not a nil Counted in a non-nil net.Conn
	}
	return c, nil
}

// DialTapped is DialContext, with a tap on what arrives (see WrapTapped).
func (d *Dialer) DialTapped(ctx context.Context, network, addr string, tap io.Writer) (Counted, error) {
	dial := d.Dial
	if dial == nil {
		var nd net.Dialer
		dial = nd.DialContext
	}
	c, err := dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	// TCP's handshake takes a round trip before the connecting side may
	// send: its SYN crosses the link, and the SYN-ACK crosses back. On
	// loopback it is instant, so the link charges it here.
	if d.Latency > 0 {
		t := time.NewTimer(2 * d.Latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			c.Close()
			return nil, ctx.Err()
		}
	}
	return WrapTapped(c, d.Latency, d.Meter, d.OnClose, tap), nil
}

// Wrap returns c behind an emulated link with the given one-way latency,
// counting bytes in m. onClose, if not nil, is called once when the returned
// connection's Close is first called, before the peer can notice. With a
// latency of 0 the connection only counts bytes. The caller must Close the
// returned connection, which closes c.
func Wrap(c net.Conn, latency time.Duration, m *Meter, onClose func()) Counted {
	return WrapTapped(c, latency, m, onClose, nil)
}

// WrapTapped is Wrap, and gives tap, if not nil, every byte that arrives
// from the peer, in order, at the moment the link counts it: as it comes
// off the real connection, before its latency, whether or not the owner
// ever reads it. So the bytes tap is given are exactly the ones BytesRead
// counts, and tap can find where something crossed, not work it out. Its
// Write is called by whichever goroutine takes the bytes off the real
// connection (the read pump behind a latency, the reader otherwise), so a
// tap that is looked at elsewhere locks; it must not block, its error is
// ignored, and it must keep only what it needs.
func WrapTapped(c net.Conn, latency time.Duration, m *Meter, onClose func(), tap io.Writer) Counted {
	m.conns.Add(1)
	if latency <= 0 {
		return &countingConn{Conn: c, meter: m, onClose: onClose, tap: tap}
	}
	lc := &delayedConn{
		Conn:      c,
		latency:   latency,
		meter:     m,
		onClose:   onClose,
		tap:       tap,
		changed:   make(chan struct{}),
		outSignal: make(chan struct{}, 1),
		writeDone: make(chan struct{}),
		readDone:  make(chan struct{}),
		gone:      make(chan struct{}),
	}
	go lc.readPump()
	go lc.writePump()
	return lc
}

// countingConn is the zero-latency link: plain reads and writes, counted.
type countingConn struct {
	net.Conn
	counts
	meter     *Meter
	onClose   func()
	tap       io.Writer
	closeOnce sync.Once
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.meter.read.Add(int64(n))
	c.read.Add(int64(n))
	if c.tap != nil && n > 0 {
		_, _ = c.tap.Write(p[:n]) // a tap never fails
	}
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.meter.written.Add(int64(n))
	c.written.Add(int64(n))
	return n, err
}

// CloseWrite half-closes the connection where the network can: the peer
// reads to the end after what was written, and may still write back. It
// returns errors.ErrUnsupported where the network cannot (an in-memory
// pipe).
func (c *countingConn) CloseWrite() error { return closeWrite(c.Conn) }

// closeWrite half-closes c, or says it cannot.
func closeWrite(c net.Conn) error {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// errWriteShut is a write after CloseWrite, as a socket refuses one.
var errWriteShut = errors.New("link: write after CloseWrite")

func (c *countingConn) Close() error {
	c.closeOnce.Do(func() {
		if c.onClose != nil {
			c.onClose()
		}
	})
	return c.Conn.Close()
}

// chunk is a run of bytes in flight, deliverable at due; or, with eof,
// the end of what this side writes (CloseWrite), delivered after them.
type chunk struct {
	due  time.Time
	data []byte
	eof  bool
}

// delayedConn delays both directions. Two goroutines serve it: readPump
// drains the real connection as fast as bytes arrive and timestamps them;
// writePump writes queued bytes to the real connection when they are due.
// Both end when the real connection is closed.
type delayedConn struct {
	net.Conn
	counts
	latency time.Duration
	meter   *Meter
	onClose func()
	tap     io.Writer // given what arrives, by readPump only

	mu sync.Mutex
	// changed is closed and replaced whenever a reader may need to look
	// again: bytes arrived, the deadline moved, the connection closed.
	changed      chan struct{}
	in           []chunk
	inErr        error // the real connection's read error, readable at inErrDue
	inErrDue     time.Time
	readDeadline time.Time
	out          []chunk
	outErr       error
	closed       bool
	shut         bool // CloseWrite was called: no more writes

	outSignal chan struct{} // wakes writePump
	writeDone chan struct{} // closed when writePump ends
	readDone  chan struct{} // closed when readPump ends
	// gone is closed when the real connection is gone: read from with an
	// error other than the peer's end of stream (a peer that half-closed
	// still reads what this side writes), or aborted, or closed.
	gone     chan struct{}
	goneOnce sync.Once
}

func (c *delayedConn) setGone() { c.goneOnce.Do(func() { close(c.gone) }) }

func (c *delayedConn) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *delayedConn) readPump() {
	defer close(c.readDone)
	buf := make([]byte, readChunk)
	for {
		n, err := c.Conn.Read(buf)
		due := time.Now().Add(c.latency)
		c.meter.read.Add(int64(n))
		c.read.Add(int64(n))
		if c.tap != nil && n > 0 {
			_, _ = c.tap.Write(buf[:n]) // a tap never fails
		}
		c.mu.Lock()
		if n > 0 {
			c.in = append(c.in, chunk{due: due, data: append([]byte(nil), buf[:n]...)})
		}
		if err != nil {
			c.inErr, c.inErrDue = err, due
		}
		c.notifyLocked()
		c.mu.Unlock()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				c.setGone()
			}
			return
		}
	}
}

// Read returns bytes whose latency has passed, blocking until there are
// some, the read deadline passes or the connection is closed.
func (c *delayedConn) Read(p []byte) (int, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return 0, net.ErrClosed
		}
		now := time.Now()
		var next time.Time // when something becomes readable
		switch {
		case len(c.in) > 0:
			if head := &c.in[0]; !now.Before(head.due) {
				n := copy(p, head.data)
				if head.data = head.data[n:]; len(head.data) == 0 {
					c.in = c.in[1:]
				}
				c.mu.Unlock()
				return n, nil
			}
			next = c.in[0].due
		case c.inErr != nil:
			if !now.Before(c.inErrDue) {
				err := c.inErr
				c.mu.Unlock()
				return 0, err
			}
			next = c.inErrDue
		}
		if !c.readDeadline.IsZero() {
			if !now.Before(c.readDeadline) {
				c.mu.Unlock()
				return 0, os.ErrDeadlineExceeded
			}
			if next.IsZero() || c.readDeadline.Before(next) {
				next = c.readDeadline
			}
		}
		changed := c.changed
		c.mu.Unlock()
		if next.IsZero() {
			<-changed
			continue
		}
		t := time.NewTimer(next.Sub(now))
		select {
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// Write queues p for delivery after the latency and returns at once.
func (c *delayedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	if c.outErr != nil {
		return 0, c.outErr
	}
	if c.shut {
		return 0, errWriteShut
	}
	c.out = append(c.out, chunk{due: time.Now().Add(c.latency), data: append([]byte(nil), p...)})
	c.meter.written.Add(int64(len(p)))
	c.written.Add(int64(len(p)))
	select {
	case c.outSignal <- struct{}{}:
	default:
	}
	return len(p), nil
}

// CloseWrite half-closes the connection where the network can, after the
// latency, behind the bytes already in flight: the peer reads them, then
// the end of stream. It returns errors.ErrUnsupported where the network
// cannot half-close.
func (c *delayedConn) CloseWrite() error {
	if _, ok := c.Conn.(interface{ CloseWrite() error }); !ok {
		return errors.ErrUnsupported
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return net.ErrClosed
	case c.outErr != nil:
		return c.outErr
	case c.shut:
		return nil
	}
	c.shut = true
	c.out = append(c.out, chunk{due: time.Now().Add(c.latency), eof: true})
	select {
	case c.outSignal <- struct{}{}:
	default:
	}
	return nil
}

func (c *delayedConn) writePump() {
	defer close(c.writeDone)
	for {
		c.mu.Lock()
		if len(c.out) == 0 {
			closed := c.closed
			c.mu.Unlock()
			if closed {
				return
			}
			<-c.outSignal
			continue
		}
		head := c.out[0]
		c.mu.Unlock()
		if d := time.Until(head.due); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-c.gone:
				t.Stop()
				return
			}
		}
		var err error
		if head.eof {
			err = closeWrite(c.Conn)
		} else {
			_, err = c.Conn.Write(head.data)
		}
		c.mu.Lock()
		if len(c.out) > 0 { // Abort may have dropped the queue meanwhile
			c.out = c.out[1:]
		}
		if err != nil {
			c.outErr, c.out = err, nil
		}
		c.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// SetDeadline sets the read deadline; writes never block, so the write
// deadline has nothing to bound.
func (c *delayedConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// SetReadDeadline bounds Read, as net.Conn requires.
func (c *delayedConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readDeadline = t
	c.notifyLocked()
	return nil
}

// SetWriteDeadline is accepted and ignored: Write queues and never blocks.
func (c *delayedConn) SetWriteDeadline(time.Time) error { return nil }

// Abort closes c at once. For a connection behind a delay, the bytes still
// in flight are dropped instead of delivered, as when a cable is pulled;
// any other connection is simply closed.
func Abort(c net.Conn) error {
	dc, ok := c.(*delayedConn)
	if !ok {
		return c.Close()
	}
	dc.mu.Lock()
	if !dc.closed {
		dc.closed = true
		if dc.onClose != nil {
			dc.onClose()
		}
	}
	dc.out = nil
	dc.notifyLocked()
	dc.mu.Unlock()
	dc.setGone()
	select {
	case dc.outSignal <- struct{}{}:
	default:
	}
	err := dc.Conn.Close()
	<-dc.writeDone
	<-dc.readDone
	return err
}

// Close lets the bytes already in flight reach the peer, as they would on a
// real link, then closes the real connection. It returns once both pumps have
// ended: at most the latency plus a short grace after it is called.
func (c *delayedConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return net.ErrClosed
	}
	c.closed = true
	if c.onClose != nil {
		c.onClose()
	}
	c.notifyLocked()
	last := time.Now()
	if n := len(c.out); n > 0 {
		last = c.out[n-1].due
	}
	c.mu.Unlock()
	select {
	case c.outSignal <- struct{}{}:
	default:
	}
	t := time.NewTimer(time.Until(last) + closeGrace)
	select {
	case <-c.writeDone:
	case <-t.C:
	}
	t.Stop()
	err := c.Conn.Close()
	c.setGone()
	<-c.writeDone
	<-c.readDone
	return err
}
