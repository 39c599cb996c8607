package h2

import (
	"bytes"
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
)

// prefaceRequest is the start of the HTTP/2 connection preface (RFC 9113
// §3.4) that an HTTP/1.1 server reads as a request: "PRI * HTTP/2.0", and
// the blank line that ends its headers. The rest, "SM\r\n\r\n", follows.
const prefaceRequest = "PRI * HTTP/2.0\r\n\r\n"

// priorKnowledge serves HTTP/2 with prior knowledge (h2c) on a connection
// that an HTTP/1.1 server accepted. call's server speaks HTTP/1.1 only: it
// reads the first line of the HTTP/2 connection preface as a request with
// method PRI, which net/http hands to the handler "so Handlers can wire up
// their own HTTP/2 upgrades". priorKnowledge takes the connection over
// (Hijack), puts back the bytes the HTTP/1.1 server read, and serves it
// with an http.Server that speaks unencrypted HTTP/2 only. Not a byte on
// the wire differs from a server that speaks h2c itself. Any other request
// is refused with 505.
//
// It goes away at integration, when call's server can be told to speak
// h2c itself (http.Server.Protocols with SetUnencryptedHTTP2): then h2 is
// the handler, and its HTTP2Config moves there.
type priorKnowledge struct {
	h2 http.Handler // serves the HTTP/2 streams
	// idle bounds how long a connection may have no stream open.
	idle time.Duration
}

func (p *priorKnowledge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != "PRI" || r.RequestURI != "*" || r.ProtoMajor != 2 {
		http.Error(w, "grandma speaks HTTP/2 here: call her with prior knowledge (h2c)", http.StatusHTTPVersionNotSupported)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "grandma cannot take the connection over: "+err.Error(), http.StatusInternalServerError)
		return
	}
	// The HTTP/1.1 server's deadlines are not HTTP/2's, which sets its own.
	if err := conn.SetDeadline(time.Time{}); err != nil {
		_ = conn.Close() // the connection is gone already
		return
	}
	read := make([]byte, brw.Reader.Buffered()) // already read: taking it never waits
	if _, err := io.ReadFull(brw.Reader, read); err != nil {
		_ = conn.Close()
		return
	}
	p.serve(r.Context(), &replayed{Conn: conn, r: io.MultiReader(strings.NewReader(prefaceRequest), bytes.NewReader(read), conn)})
}

// serve serves one HTTP/2 connection until it closes or ctx ends, and
// returns once no handler of its runs any more.
func (p *priorKnowledge) serve(ctx context.Context, conn net.Conn) {
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	h := &handlers{h: p.h2}
	var closeOnce sync.Once
	closed := make(chan struct{}) // the connection is closed, and no stream will start
	srv := &http.Server{
		Protocols:      protocols,
		Handler:        h,
		IdleTimeout:    p.idle,
		MaxHeaderBytes: call.HTTPMaxHeaderBytes,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: maxStreams,
			WriteByteTimeout:     writeWait,
		},
		ErrorLog:    log.New(io.Discard, "", 0),
		BaseContext: func(net.Listener) context.Context { return ctx },
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateClosed {
				closeOnce.Do(func() { close(closed) })
			}
		},
	}
	l := &oneConn{conn: conn, done: make(chan struct{})}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(l) // it ends when closed below: ErrServerClosed
	}()
	select {
	case <-closed:
	case <-ctx.Done():
		_ = conn.Close() // the call is over: cut the connection
	}
	_ = srv.Close() // stops Serve
	<-served
	if l.accepted() {
		<-closed // its goroutine has ended, and started its last stream
	}
	h.wait()
}

// handlers runs h for each stream, and waits for those running.
type handlers struct {
	h       http.Handler
	mu      sync.Mutex
	running int
	over    bool          // no stream starts any more
	idle    chan struct{} // closed when over and none runs
}

func (hs *handlers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hs.mu.Lock()
	if hs.over {
		hs.mu.Unlock()
		return // the connection is closed: nobody hears this
	}
	hs.running++
	hs.mu.Unlock()
	defer func() {
		hs.mu.Lock()
		if hs.running--; hs.running == 0 && hs.idle != nil {
			close(hs.idle)
			hs.idle = nil
		}
		hs.mu.Unlock()
	}()
	hs.h.ServeHTTP(w, r)
}

// wait stops new streams and waits until none runs.
func (hs *handlers) wait() {
	hs.mu.Lock()
	hs.over = true
	if hs.running == 0 {
		hs.mu.Unlock()
		return
	}
	idle := make(chan struct{})
	hs.idle = idle
	hs.mu.Unlock()
	<-idle
}

// replayed is a connection whose first bytes are read again.
type replayed struct {
	net.Conn
	r io.Reader
}

func (c *replayed) Read(p []byte) (int, error) { return c.r.Read(p) }

// oneConn is a listener that accepts one connection, and then waits to be
// closed.
type oneConn struct {
	mu   sync.Mutex
	conn net.Conn // nil once accepted
	done chan struct{}
	once sync.Once
}

func (l *oneConn) Accept() (net.Conn, error) {
	l.mu.Lock()
	c := l.conn
	l.conn = nil
	l.mu.Unlock()
	if c != nil {
		return c, nil
	}
	<-l.done
	return nil, net.ErrClosed
}

// accepted says whether Accept has returned the connection.
func (l *oneConn) accepted() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conn == nil
}

func (l *oneConn) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *oneConn) Addr() net.Addr { return addr{} }

// addr is oneConn's address: it listens nowhere.
type addr struct{}

func (addr) Network() string { return "h2c" }
func (addr) String() string  { return "h2c" }
