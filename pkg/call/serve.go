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
	// initialReadLimitSize) beyond the field's value.
	HTTPMaxHeaderBytes = MaxHeaderBytes - 4<<10
	// ShutdownTimeout bounds how long a finished call waits for grandma's
	// connections to close before cutting them.
	ShutdownTimeout = time.Second
)

// serve starts grandma's HTTP server with handler h on the call's listener.
// Handlers' request contexts end when ctx ends. Every connection grandma
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
		ErrorLog:          log.New(io.Discard, "", 0),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	return func() error {
		sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		var cut error
		if srv.Shutdown(sctx) != nil {
			cut = srv.Close() // what is still open after the timeout is cut
		}
		err := <-served
		ln.conns.Wait()
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
	rec   *timeline.Recorder
	conns sync.WaitGroup
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.conns.Add(1)
	return &trackedConn{Conn: c, l: l}, nil
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
		c.l.conns.Done()
	})
	return err
}
