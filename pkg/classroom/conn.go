package classroom

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/link"
)

// connKey keys a connection in its requests' contexts.
type connKey struct{}

// meteredListener puts each accepted connection behind the emulated link
// and a meter of its own, and counts it open. When the process has run out
// of files it says so in the server's log, at most once a second, and
// tries again, as net/http would (but net/http only writes it to its
// ErrorLog, once every retry); a caller meanwhile waits in the listen
// queue.
type meteredListener struct {
	net.Listener
	s         *Server
	closed    chan struct{}
	closeOnce sync.Once
	// warned is when running out of files was last logged, and missed
	// how many times it happened since. Only Accept's goroutine uses them.
	warned time.Time
	missed int
}

func newMeteredListener(s *Server) *meteredListener {
	return &meteredListener{Listener: s.cfg.Listener, s: s, closed: make(chan struct{})}
}

// warnEvery bounds how often the log says the process is out of files.
const warnEvery = time.Second

func (l *meteredListener) Accept() (net.Conn, error) {
	var wait time.Duration
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			return l.meter(c), nil
		}
		if !errors.Is(err, syscall.EMFILE) && !errors.Is(err, syscall.ENFILE) {
			return nil, err
		}
		if now := time.Now(); now.Sub(l.warned) >= warnEvery {
			l.s.log.Warn("cannot take a connection: out of open files; callers wait until one is free (raise ulimit -n, or lower --max-calls)",
				"error", err.Error(), "open_connections", l.s.conns.Load(), "open_files_limit", l.s.cfg.OpenFiles, "times", l.missed+1)
			l.warned, l.missed = now, 0
		} else {
			l.missed++
		}
		wait = min(max(2*wait, 5*time.Millisecond), time.Second) // as net/http backs off
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-l.closed:
			t.Stop()
			return nil, net.ErrClosed
		}
	}
}

func (l *meteredListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

func (l *meteredListener) meter(c net.Conn) net.Conn {
	latency := l.s.cfg.Latency
	conn := link.Wrap(c, latency, new(link.Meter), nil)
	if latency > 0 {
		conn = newHandshaking(conn, 2*latency)
	}
	l.s.conns.Add(1)
	return &meteredConn{Conn: conn, open: &l.s.conns}
}

// requestOwner is the call a request belongs to: it is given the bytes of
// the request and its answer once the answer has gone out in full.
type requestOwner interface {
	answered(in, out int64)
}

// meteredConn counts the bytes grandma reads and writes on a connection,
// and gives each request's bytes to the call it belongs to: a kept-alive
// connection may carry the requests of several calls (a browser's calls
// one after another, its tabs), and each call counts its own.
//
// A request's bytes read run from where the handler before it returned
// (its head is read before anyone knows its call) to where its own handler
// returns: what is read after that is the next request's (net/http may
// read its first byte while it finishes this answer). Its bytes written
// run to where its answer ends, when the connection goes idle or closes
// (net/http's last bytes of it, such as a chunked answer's terminating
// chunk, go out after the handler returns).
type meteredConn struct {
	net.Conn
	open          *atomic.Int64 // the server's count of open connections
	closeOnce     sync.Once
	read, written atomic.Int64

	mu sync.Mutex
	// markRead and markWritten are the counts where the last request's
	// bytes ended; handledAt is the read count where the handler of the
	// request under way returned, if it has (handled).
	markRead, markWritten int64
	handledAt             int64
	handled               bool
	// owner is the call of the request under way; nil for none.
	owner requestOwner
}

func (c *meteredConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c *meteredConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

func (c *meteredConn) Close() error {
	c.closeOnce.Do(func() { c.open.Add(-1) })
	return c.Conn.Close()
}

// serving says that the request under way belongs to o.
func (c *meteredConn) serving(o requestOwner) {
	c.mu.Lock()
	c.owner = o
	c.mu.Unlock()
}

// handlerReturned is told that the handler of the request under way has
// returned: what is read from now on is the next request's.
func (c *meteredConn) handlerReturned() {
	c.mu.Lock()
	c.handledAt, c.handled = c.read.Load(), true
	c.mu.Unlock()
}

// answered is told that the request under way has been answered in full:
// its bytes go to its call, if it has one.
func (c *meteredConn) answered() {
	read, written := c.read.Load(), c.written.Load()
	c.mu.Lock()
	if c.handled { // else net/http answered it itself (a 431), or none came
		read = c.handledAt
	}
	o := c.owner
	in, out := read-c.markRead, written-c.markWritten
	c.markRead, c.markWritten, c.handled, c.owner = read, written, false, nil
	c.mu.Unlock()
	if o != nil {
		o.answered(in, out)
	}
}

// sinceAnswered returns the bytes read and written since the last answer
// ended: a phone call's, from its opening handshake on.
func (c *meteredConn) sinceAnswered() (in, out int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.read.Load() - c.markRead, c.written.Load() - c.markWritten
}

// handshaking charges a new connection the round trip its TCP handshake
// would take on the emulated link: the emulated link delays bytes, but the
// handshake on loopback is instant, so a client's first bytes are held
// back for one more round trip. A browser that opens a second connection
// to get a word in pays for it, as it would on a real network.
type handshaking struct {
	link.Counted
	ready  time.Time
	closed chan struct{}
	once   sync.Once
}

func newHandshaking(c link.Counted, rt time.Duration) *handshaking {
	return &handshaking{Counted: c, ready: time.Now().Add(rt), closed: make(chan struct{})}
}

func (h *handshaking) Read(p []byte) (int, error) {
	if d := time.Until(h.ready); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-h.closed:
			t.Stop()
			return 0, net.ErrClosed
		}
	}
	return h.Counted.Read(p)
}

func (h *handshaking) Close() error {
	h.once.Do(func() { close(h.closed) })
	return h.Counted.Close()
}
