package call

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// Grandma's server limits: a slow or stuck peer is dropped, never waited for.
const (
	// ReadHeaderTimeout bounds how long a request's headers may take,
	// beyond two round trips of the emulated link (a new connection's
	// handshake, and the headers' way).
	ReadHeaderTimeout = 5 * time.Second
	// IdleTimeout bounds how long a kept-alive connection may sit unused,
	// beyond the script's own silences (see Session.Silence).
	IdleTimeout = 10 * time.Second
	// MaxHeaderBytes bounds a request's head, in bytes: its request line
	// and headers, each line's CRLF and the blank line included. Past it
	// the answer is 431.
	MaxHeaderBytes = 8 << 10
	// HTTPMaxHeaderBytes is the http.Server.MaxHeaderBytes that holds a
	// head to MaxHeaderBytes: net/http reads 4 KiB (its
	// initialReadLimitSize) beyond the field's value, and on a server that
	// speaks h2c (Protocols) it first reads a connection's first 14 bytes
	// uncounted, to tell HTTP/2's preface ("PRI * HTTP/2.0"). So a later
	// request on a kept-alive connection is held to 14 bytes less.
	HTTPMaxHeaderBytes = MaxHeaderBytes - 4<<10 - len("PRI * HTTP/2.0")
	// ShutdownTimeout bounds how long a finished call waits for grandma's
	// connections to close before cutting them.
	ShutdownTimeout = time.Second
	// closeNotice bounds how long, beyond a round trip, grandma's server
	// takes to notice the grandchild has closed a connection, and to close
	// it, before it is shut down.
	closeNotice = 250 * time.Millisecond
	// MaxStreams bounds the HTTP/2 streams one connection may have open at
	// once: a call over HTTP/2 needs two, its own and an urgent line's.
	MaxStreams = 8
	// WriteByteTimeout bounds how long an HTTP/2 connection may have bytes
	// to write and write none: a peer that stops reading is dropped.
	WriteByteTimeout = 5 * time.Second
	// StreamWindow is how many bytes a stream may have in flight to
	// grandma: HTTP/2's own initial window (RFC 9113 §6.9.2), not Go's
	// megabyte, so that one stream's big body cannot fill the connection
	// ahead of another stream's line.
	StreamWindow = 65535
)

// Protocols returns what grandma's servers speak: HTTP/1.1, and HTTP/2 in
// cleartext with prior knowledge (h2c) on the same port. Each connection
// says which by its first bytes: HTTP/2's begins with its preface.
func Protocols() *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return p
}

// HTTP2 returns the HTTP/2 limits of grandma's servers. No pings
// (SendPingTimeout): they would add bytes the call did not need.
func HTTP2() *http.HTTP2Config {
	return &http.HTTP2Config{MaxConcurrentStreams: MaxStreams, WriteByteTimeout: WriteByteTimeout, MaxReceiveBufferPerStream: StreamWindow}
}

// serve starts grandma's HTTP server with handler h on the call's listener:
// HTTP/1.1 and, on the same listener, HTTP/2 with prior knowledge
// (Protocols). Handlers' request contexts end when ctx ends. Every connection grandma
// accepts is recorded when she closes it, hijacked (WebSocket) ones
// included.
//
// The caller must call the returned stop once the call is over: it shuts
// the server down, cutting what is still open after ShutdownTimeout, and
// returns once every accepted connection is closed.
func (s *Session) serve(ctx context.Context, h http.Handler) (stop func() error) {
	ln := &trackingListener{Listener: s.listener, rec: s.Rec}
	srv := &http.Server{
		Handler: h,
		// The link charges a new connection its TCP handshake after grandma
		// has accepted it: its first headers come a round trip later.
		ReadHeaderTimeout: ReadHeaderTimeout + 2*s.RoundTrip(),
		IdleTimeout:       s.Silence(IdleTimeout),
		MaxHeaderBytes:    HTTPMaxHeaderBytes,
		Protocols:         Protocols(),
		HTTP2:             HTTP2(),
		ErrorLog:          log.New(io.Discard, "", 0),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	return func() error {
		// The grandchild has hung up: grandma closes each connection as she
		// notices. Shutting down first would send what a connection she was
		// about to close never carries (HTTP/2's GOAWAY), bytes that reach
		// a socket the grandchild has closed, which no count of hers holds.
		notice := time.NewTimer(s.RoundTrip() + closeNotice)
		ln.waitClosed(notice.C)
		notice.Stop()
		sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		var cut error
		if srv.Shutdown(sctx) != nil {
			cut = srv.Close() // what is still open after the timeout is cut
		}
		err := <-served
		ln.waitClosed(nil)
		if errors.Is(err, http.ErrServerClosed) {
			return cut
		}
		return err
	}
}

// trackingListener records grandma's connections closing, and counts the
// ones still open. Their opening is the grandchild's to record: on the
// server it happens at the same moment, in an order no one can tell.
type trackingListener struct {
	net.Listener
	rec *timeline.Recorder

	mu      sync.Mutex
	open    int           // connections accepted and not yet closed
	changed chan struct{} // closed and replaced when one closes; nil before any
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.open++
	l.mu.Unlock()
	return &trackedConn{Conn: c, l: l}, nil
}

// waitClosed returns once every connection accepted so far is closed, or
// when stop delivers (never, if nil).
func (l *trackingListener) waitClosed(stop <-chan time.Time) {
	for {
		l.mu.Lock()
		if l.changed == nil {
			l.changed = make(chan struct{})
		}
		open, changed := l.open, l.changed
		l.mu.Unlock()
		if open == 0 {
			return
		}
		select {
		case <-changed:
		case <-stop:
			return
		}
	}
}

type trackedConn struct {
	net.Conn
	l    *trackingListener
	once sync.Once
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.rec.Record(timeline.Server, timeline.KindClose, "closes the connection")
		c.l.mu.Lock()
		c.l.open--
		if c.l.changed != nil {
			close(c.l.changed)
			c.l.changed = nil
		}
		c.l.mu.Unlock()
	})
	return err
}
