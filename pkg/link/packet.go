package link

import (
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// maxDatagram is the largest datagram the read pump takes off the real
// socket: the largest UDP payload there is.
const maxDatagram = 64 << 10

// drainWait is how long Drain keeps reading a lingering socket for the
// datagrams that have arrived: on loopback they are in its buffer already.
const drainWait = 20 * time.Millisecond

// PacketConn is a datagram socket behind the emulated link, the UDP
// counterpart of Wrap's connection. As there, the wrapped end (the
// grandchild's, in this project) carries the whole delay: a datagram it
// writes at t is written to the real socket at t+latency, and one that
// arrives from the real socket at t becomes readable at t+latency. One
// queue each way keeps the datagrams in the order they were written or
// arrived, so the order to each destination is kept too. WriteTo queues
// and returns at once, as a real link's sender does.
//
// With a Profile (WrapPacketConn), each datagram serialises whole at the
// bandwidth, behind the datagrams before it in its direction, and is
// deliverable once its last byte has, plus the latency and its jitter. The
// socket is a link of its own: it shares no Meter. Jitter delays a datagram
// but never lets it overtake the one before it: a real path reorders
// rarely, and QUIC, which this project runs on these sockets, takes a
// datagram three places late for lost and sends it again, which would
// count bytes no lesson here is about.
//
// It counts each datagram's payload where it crosses: as it is written to
// the real socket, and as it comes off it. Its methods are safe for
// concurrent use. The caller must Close it, which closes the real socket.
type PacketConn struct {
	net.PacketConn
	path         // guarded by mu, but for the busy logs (wire's mutex)
	link    wire // the link of its own it is on
	onClose func()

	written, read          atomic.Int64 // payload bytes, each way
	sentGrams, readGrams   atomic.Int64 // datagrams, each way
	closeOnce              sync.Once
	direct                 bool          // a zero profile and no lingering: no pumps, the real socket used as it is
	linger                 bool          // Close leaves the real socket open, still counting, until Drain
	realClose              sync.Once     // closes the real socket
	realErr                error         // what closing the real socket returned
	readDone, writeDone    chan struct{} // closed when each pump ends; nil when direct
	outSignal              chan struct{} // wakes writePump
	mu                     sync.Mutex
	changed                chan struct{} // closed and replaced when a reader may look again
	in, out                []datagram
	inErr, outErr          error
	inErrDue, readDeadline time.Time
	closed                 bool
}

// datagram is one datagram in flight, deliverable at due, and the address
// it came from or goes to.
type datagram struct {
	due  time.Time
	data []byte
	addr net.Addr
}

// WrapPacket returns c behind an emulated link with the given one-way
// latency. onClose, if not nil, is called once when the returned socket's
// Close (or Abort) is first called. With a latency of 0 the socket only
// counts datagrams, and starts no goroutine; otherwise two serve it (see
// delayedConn), and both have ended when Close returns.
func WrapPacket(c net.PacketConn, latency time.Duration, onClose func()) *PacketConn {
	return WrapPacketConn(c, PacketConfig{Profile: Profile{Latency: latency}, OnClose: onClose})
}

// WrapLingering is WrapPacket for a socket whose Close leaves the real
// socket open behind it, still reading and counting, never delivering:
// the datagrams that still arrive once its owner is done (a peer's last
// acknowledgements, its answer to a CONNECTION_CLOSE) crossed the link as
// surely as the others, and a capture on the wire counts them. Drain ends
// the lingering. Its two goroutines run at any latency, 0 too.
func WrapLingering(c net.PacketConn, latency time.Duration, onClose func()) *PacketConn {
	return WrapPacketConn(c, PacketConfig{Profile: Profile{Latency: latency}, OnClose: onClose, Linger: true})
}

// PacketConfig is how WrapPacketConn wraps a datagram socket.
type PacketConfig struct {
	// Profile is the link's: latency, bandwidth, jitter and seed.
	Profile Profile
	// Index picks the jitter's sources (see Profile): give each socket of
	// one call its own, in an order that does not depend on scheduling.
	Index uint64
	// OnClose, if not nil, is called once when the socket's Close (or
	// Abort) is first called.
	OnClose func()
	// Linger leaves the real socket open behind Close, still reading and
	// counting, until Drain (see WrapLingering).
	Linger bool

	drawn func(Direction, time.Duration) // if not nil, told every jitter drawn (tests)
}

// WrapPacketConn returns c behind an emulated link with cfg's profile. With
// a zero profile and no lingering, the socket only counts datagrams, and
// starts no goroutine; otherwise two serve it (see delayedConn), and both
// have ended when Close (or, lingering, Drain) returns.
func WrapPacketConn(c net.PacketConn, cfg PacketConfig) *PacketConn {
	p := cfg.Profile
	p.Latency = max(p.Latency, 0)
	pc := &PacketConn{PacketConn: c, onClose: cfg.OnClose, changed: make(chan struct{}), linger: cfg.Linger}
	pc.path = newPath(p, &pc.link, 1<<63|cfg.Index<<1)
	pc.drawn = cfg.drawn
	pc.direct = p.plain() && !cfg.Linger
	if !pc.direct {
		pc.readDone, pc.writeDone = make(chan struct{}), make(chan struct{})
		pc.outSignal = make(chan struct{}, 1)
		go pc.readPump()
		go pc.writePump()
	}
	return pc
}

// closeReal closes the real socket, once.
func (c *PacketConn) closeReal() error {
	c.realClose.Do(func() { c.realErr = c.PacketConn.Close() })
	return c.realErr
}

// Drain ends a lingering socket (WrapLingering) that its owner has
// closed: it counts the datagrams that have arrived, for a moment, then
// closes the real socket, and returns once its goroutines have ended. On
// any other socket, or one still open, it does nothing.
func (c *PacketConn) Drain() error {
	c.mu.Lock()
	lingering := c.linger && c.closed
	c.mu.Unlock()
	if !lingering {
		return nil
	}
	// The deadline ends the read pump once the socket's buffer is empty.
	if err := c.PacketConn.SetReadDeadline(time.Now().Add(drainWait)); err != nil {
		_ = c.closeReal()
		<-c.readDone
		return err
	}
	<-c.readDone
	err := c.closeReal()
	<-c.writeDone
	return err
}

// BusyTime returns the time direction d of the link spent serialising
// datagrams so far (0 without a bandwidth), as they were scheduled when
// they were written or arrived.
func (c *PacketConn) BusyTime(d Direction) time.Duration { return c.path.BusyTime(d) }

// BusyIntervals returns when the link serialised datagrams, both
// directions, in order of their start, at most MaxIntervals each way.
func (c *PacketConn) BusyIntervals() []Interval { return c.path.BusyIntervals() }

// BytesWritten returns the payload bytes of the datagrams the wrapped end
// wrote that have crossed to the real socket so far.
func (c *PacketConn) BytesWritten() int64 { return c.written.Load() }

// BytesRead returns the payload bytes of the datagrams that arrived from
// the real socket so far, read by the owner or not.
func (c *PacketConn) BytesRead() int64 { return c.read.Load() }

// DatagramsWritten returns how many datagrams BytesWritten counts.
func (c *PacketConn) DatagramsWritten() int64 { return c.sentGrams.Load() }

// DatagramsRead returns how many datagrams BytesRead counts.
func (c *PacketConn) DatagramsRead() int64 { return c.readGrams.Load() }

// SetReadBuffer and SetWriteBuffer size the real socket's buffers, when it
// has them (a *net.UDPConn does). quic-go asks for larger ones, and logs a
// warning for a socket that cannot take them.
func (c *PacketConn) SetReadBuffer(bytes int) error {
	if s, ok := c.PacketConn.(interface{ SetReadBuffer(int) error }); ok {
		return s.SetReadBuffer(bytes)
	}
	return nil
}

// SetWriteBuffer: see SetReadBuffer.
func (c *PacketConn) SetWriteBuffer(bytes int) error {
	if s, ok := c.PacketConn.(interface{ SetWriteBuffer(int) error }); ok {
		return s.SetWriteBuffer(bytes)
	}
	return nil
}

func (c *PacketConn) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// ReadFrom reads the next datagram whose time has come, blocking until
// there is one, the read deadline passes (os.ErrDeadlineExceeded) or the
// socket is closed. As on a real socket, a datagram longer than p is cut
// to fit, and the rest of it is lost.
func (c *PacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	if c.direct {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err == nil {
			c.read.Add(int64(n))
			c.readGrams.Add(1)
		}
		return n, addr, err
	}
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return 0, nil, net.ErrClosed
		}
		now := time.Now()
		var next time.Time // when something becomes readable
		switch {
		case len(c.in) > 0:
			if head := c.in[0]; !now.Before(head.due) {
				c.in = c.in[1:]
				c.mu.Unlock()
				return copy(p, head.data), head.addr, nil
			}
			next = c.in[0].due
		case c.inErr != nil:
			if !now.Before(c.inErrDue) {
				err := c.inErr
				c.mu.Unlock()
				return 0, nil, err
			}
			next = c.inErrDue
		}
		if !c.readDeadline.IsZero() {
			if !now.Before(c.readDeadline) {
				c.mu.Unlock()
				return 0, nil, os.ErrDeadlineExceeded
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

// readPump is the only reader of the real socket behind a latency: it
// takes each datagram off as soon as it arrives, counts it and timestamps
// it. It ends when the real socket is closed.
func (c *PacketConn) readPump() {
	defer close(c.readDone)
	buf := make([]byte, maxDatagram)
	for {
		n, addr, err := c.PacketConn.ReadFrom(buf)
		now := time.Now()
		c.mu.Lock()
		if err == nil {
			c.read.Add(int64(n))
			c.readGrams.Add(1)
			_, _, due := c.schedule(In, now, n, true) // it crossed, delivered or not
			if !c.closed {                            // a lingering socket counts what arrives, and keeps none of it
				c.in = append(c.in, datagram{due: due, data: append([]byte(nil), buf[:n]...), addr: addr})
			}
		} else {
			_, _, due := c.schedule(In, now, 0, false)
			c.inErr, c.inErrDue = err, due
		}
		c.notifyLocked()
		c.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// WriteTo queues p for addr, to be written to the real socket when its
// time has come (see PacketConn), and returns at once. An error writing an earlier datagram is
// returned instead.
func (c *PacketConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if c.direct {
		n, err := c.PacketConn.WriteTo(p, addr)
		if err == nil {
			c.written.Add(int64(n))
			c.sentGrams.Add(1)
		}
		return n, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	if c.outErr != nil {
		return 0, c.outErr
	}
	_, _, due := c.schedule(Out, time.Now(), len(p), true)
	c.out = append(c.out, datagram{due: due, data: append([]byte(nil), p...), addr: addr})
	select {
	case c.outSignal <- struct{}{}:
	default:
	}
	return len(p), nil
}

// writePump is the only writer of the real socket behind a latency: it
// writes each queued datagram when it is due, and counts it then. It ends
// when the socket is closed and its queue is empty, or the real socket is
// gone.
func (c *PacketConn) writePump() {
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
			case <-c.readDone: // the real socket is gone
				t.Stop()
				return
			}
		}
		n, err := c.PacketConn.WriteTo(head.data, head.addr)
		if err == nil {
			c.written.Add(int64(n))
			c.sentGrams.Add(1)
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
func (c *PacketConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// SetReadDeadline bounds ReadFrom, as net.PacketConn requires.
func (c *PacketConn) SetReadDeadline(t time.Time) error {
	if c.direct {
		return c.PacketConn.SetReadDeadline(t)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readDeadline = t
	c.notifyLocked()
	return nil
}

// SetWriteDeadline bounds WriteTo without a latency; behind one, WriteTo
// queues and never blocks, and the deadline is ignored.
func (c *PacketConn) SetWriteDeadline(t time.Time) error {
	if c.direct {
		return c.PacketConn.SetWriteDeadline(t)
	}
	return nil
}

func (c *PacketConn) closing() {
	c.closeOnce.Do(func() {
		if c.onClose != nil {
			c.onClose()
		}
	})
}

// Close lets the datagrams already in flight reach the real socket, as
// they would on a real link, then closes it (a lingering socket's is left
// open until Drain). It returns once the write pump has ended, and the
// read pump too unless it lingers: at most the latency plus a short grace
// after it is called.
func (c *PacketConn) Close() error {
	if c.direct {
		c.closing()
		return c.PacketConn.Close()
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return net.ErrClosed
	}
	c.closed = true
	c.closing()
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
	if c.linger {
		return nil
	}
	err := c.closeReal()
	<-c.writeDone
	<-c.readDone
	return err
}

// Abort closes c at once, dropping the datagrams still in flight, as when
// a cable is pulled. It returns once both pumps have ended.
func (c *PacketConn) Abort() error {
	if c.direct {
		c.closing()
		return c.PacketConn.Close()
	}
	c.mu.Lock()
	c.closed = true
	c.closing()
	c.out = nil
	c.notifyLocked()
	c.mu.Unlock()
	select {
	case c.outSignal <- struct{}{}:
	default:
	}
	err := c.closeReal()
	<-c.writeDone
	<-c.readDone
	return err
}
