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
//
// A Profile adds a bandwidth and a jitter: behind a bandwidth, bytes queue
// to go onto the link one after another at its rate, each way on its own,
// and arrive at the latency after they went on; jitter adds to each write's
// delay, drawn from a seed, never reordering a byte stream. The connections
// wrapped with one Meter share one link, as one home's connections share
// its line, and the Meter keeps the time each way spent serialising.
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
// from the wrapped end. Those connections share one link: behind a
// bandwidth, their bytes queue for the same two directions, and the Meter
// keeps the time each direction spent serialising them. Its methods are
// safe for concurrent use. A Meter must not be copied once used.
type Meter struct {
	written, read, conns atomic.Int64
	wire                 wire
}

// BusyTime returns the time direction d of the link spent serialising
// bytes, of all its connections: the length of the busy intervals, none
// counted twice (0 without a bandwidth). Bytes queued but not yet
// serialised count as they are scheduled to be.
func (m *Meter) BusyTime(d Direction) time.Duration { return m.wire.busyTime(&m.wire.busy, d) }

// BusyIntervals returns when the link was busy serialising, both
// directions, in order of their start, at most MaxIntervals each way.
func (m *Meter) BusyIntervals() []Interval { return m.wire.intervals(&m.wire.busy) }

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
	// BusyTime returns the time direction d of the link spent serialising
	// this connection's bytes so far (0 without a bandwidth).
	BusyTime(d Direction) time.Duration
	// BusyIntervals returns when the link serialised this connection's
	// bytes, both directions, in order of their start, at most
	// MaxIntervals each way.
	BusyIntervals() []Interval
}

// counts are one connection's bytes, each way.
type counts struct{ written, read atomic.Int64 }

func (c *counts) BytesWritten() int64 { return c.written.Load() }
func (c *counts) BytesRead() int64    { return c.read.Load() }

// Dialer dials connections and wraps them in the emulated link.
type Dialer struct {
	// Latency, Bandwidth, Jitter and Seed are the link's Profile; their
	// zero values mean no delay, no limit, no jitter.
	Latency   time.Duration
	Bandwidth Rate
	Jitter    time.Duration
	Seed      uint64
	// Meter counts the bytes, and is the link its connections share; it
	// must not be nil.
	Meter *Meter
	// Dial makes the real connection; nil means a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// OnClose, if not nil, is called once when the owner of a wrapped
	// connection starts to close it, before the peer can notice.
	OnClose func()
}

// Profile returns the link's profile, as d's fields give it.
func (d *Dialer) Profile() Profile {
	return Profile{Latency: d.Latency, Bandwidth: d.Bandwidth, Jitter: d.Jitter, Seed: d.Seed}
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
	// loopback it is instant, so the link charges it here: the latency
	// each way, without jitter or serialising (it draws nothing).
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
	return WrapConn(c, ConnConfig{Profile: d.Profile(), Meter: d.Meter, OnClose: d.OnClose, Tap: tap}), nil
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
	return WrapConn(c, ConnConfig{Profile: Profile{Latency: latency}, Meter: m, OnClose: onClose, Tap: tap})
}

// ConnConfig is how WrapConn wraps a connection.
type ConnConfig struct {
	// Profile is the link's: latency, bandwidth, jitter and seed.
	Profile Profile
	// Meter counts the bytes, and is the link the connection shares with
	// the others wrapped with it; it must not be nil. The connection's
	// place among them (0 for the first) picks its jitter's sources.
	Meter *Meter
	// OnClose, if not nil, is called once when the connection's Close is
	// first called, before the peer can notice.
	OnClose func()
	// Tap, if not nil, is given every byte that arrives (see WrapTapped).
	Tap io.Writer

	drawn func(Direction, time.Duration) // if not nil, told every jitter drawn (tests)
}

// WrapConn returns c behind an emulated link with cfg's profile (see
// Profile for when each byte crosses), counting bytes in cfg.Meter. With a
// zero profile the connection only counts bytes, and starts no goroutine;
// otherwise two serve it, and both have ended when Close or Abort returns.
// The caller must Close the returned connection, which closes c.
func WrapConn(c net.Conn, cfg ConnConfig) Counted {
	m := cfg.Meter
	index := m.conns.Add(1) - 1
	if cfg.Profile.plain() {
		return &countingConn{Conn: c, meter: m, onClose: cfg.OnClose, tap: cfg.Tap}
	}
	lc := &delayedConn{
		Conn:      c,
		path:      newPath(cfg.Profile, &m.wire, uint64(index)<<1),
		meter:     m,
		onClose:   cfg.OnClose,
		tap:       cfg.Tap,
		changed:   make(chan struct{}),
		outSignal: make(chan struct{}, 1),
		writeDone: make(chan struct{}),
		readDone:  make(chan struct{}),
		gone:      make(chan struct{}),
	}
	lc.drawn = cfg.drawn
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

// BusyTime is 0: without a bandwidth, bytes take no time to serialise.
func (c *countingConn) BusyTime(Direction) time.Duration { return 0 }

// BusyIntervals is empty: without a bandwidth, the link is never busy.
func (c *countingConn) BusyIntervals() []Interval { return nil }

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

// chunk is a run of bytes in flight, all deliverable at due; or, with eof,
// the end of what this side writes (CloseWrite), delivered after them.
// Behind a bandwidth its bytes become deliverable a segment at a time, as
// each segment's last byte was serialised (lead, plus the time the bytes
// up to it take at rate), never before the chunk ahead of it (after).
type chunk struct {
	after, lead, due time.Time
	rate             Rate
	data             []byte
	eof              bool
	taken            int // bytes already delivered
}

// newChunk schedules data (or, with eof, the end of stream) on direction d
// of p at now.
func newChunk(p *path, d Direction, now time.Time, data []byte, eof bool) chunk {
	after, lead, due := p.schedule(d, now, len(data), !eof)
	return chunk{after: after, lead: lead, due: due, rate: p.profile.Bandwidth, data: data, eof: eof}
}

// ready returns how many of its bytes are deliverable at now, counting
// those already taken, and, if not all of them, when more will be.
func (ch *chunk) ready(now time.Time) (int, time.Time) {
	switch {
	case !now.Before(ch.due):
		return len(ch.data), time.Time{}
	case ch.rate <= 0 || len(ch.data) == 0: // all at once, or an end of stream
		return 0, ch.due
	case now.Before(ch.after):
		return 0, ch.after
	}
	n := int(min(ch.rate.bytesIn(now.Sub(ch.lead))/segment*segment, int64(len(ch.data))))
	if n == len(ch.data) {
		return n, time.Time{}
	}
	if next := n + segment; next < len(ch.data) {
		return n, ch.lead.Add(ch.rate.TimeFor(int64(next)))
	}
	return n, ch.due
}

// delayedConn delays both directions. Two goroutines serve it: readPump
// drains the real connection as fast as bytes arrive and timestamps them;
// writePump writes queued bytes to the real connection when they are due.
// Both end when the real connection is closed.
type delayedConn struct {
	net.Conn
	counts
	path    // guarded by mu, but for the busy logs (the wire's mutex)
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
		now := time.Now()
		c.meter.read.Add(int64(n))
		c.read.Add(int64(n))
		if c.tap != nil && n > 0 {
			_, _ = c.tap.Write(buf[:n]) // a tap never fails
		}
		c.mu.Lock()
		if n > 0 {
			c.in = append(c.in, newChunk(&c.path, In, now, append([]byte(nil), buf[:n]...), false))
		}
		if err != nil { // after the bytes before it, as an end of stream
			c.inErr, c.inErrDue = err, newChunk(&c.path, In, now, nil, true).due
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

// Read returns bytes whose time has come (see Profile), blocking until
// there are some, the read deadline passes or the connection is closed.
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
			head := &c.in[0]
			ready, more := head.ready(now)
			if ready > head.taken {
				n := copy(p, head.data[head.taken:ready])
				if head.taken += n; head.taken == len(head.data) {
					c.in = c.in[1:]
				}
				c.mu.Unlock()
				return n, nil
			}
			next = more
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

// Write queues p for delivery (see Profile) and returns at once.
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
	c.out = append(c.out, newChunk(&c.path, Out, time.Now(), append([]byte(nil), p...), false))
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
	c.out = append(c.out, newChunk(&c.path, Out, time.Now(), nil, true))
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
		n, more := head.ready(time.Now())
		if n == head.taken && !more.IsZero() { // nothing more is due yet
			t := time.NewTimer(time.Until(more))
			select {
			case <-t.C:
			case <-c.gone:
				t.Stop()
				return
			}
			continue
		}
		var err error
		if head.eof {
			err = closeWrite(c.Conn)
		} else {
			_, err = c.Conn.Write(head.data[head.taken:n])
		}
		c.mu.Lock()
		switch { // Abort may have dropped the queue meanwhile
		case len(c.out) == 0:
		case n == len(head.data):
			c.out = c.out[1:]
		default:
			c.out[0].taken = n
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
