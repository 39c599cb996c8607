// Package classroom serves grandma alone, for grandchildren on other
// machines: the teacher runs one server and every student's duplexdemo
// calls it, over the walkie-talkie (HTTP/1.1, at halfduplex.Path) or the
// phone (a WebSocket, at fullduplex.Path). Each caller gets a call of her
// own, many at once, and grandma hands her record of each call back at
// its end (package wire), so that the student sees both sides.
//
// A server on a classroom network meets slow, broken and hostile peers, so
// everything is bounded: header and body sizes and times, message sizes,
// silences (a peer that goes away is dropped by ping), the number of calls
// at once, and the lines one call may say.
package classroom

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/classroom/webpage"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
	"github.com/duplexdemo/duplexdemo/pkg/link"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// Defaults and limits.
const (
	// DefaultAddr is where the server listens unless told otherwise: this
	// machine only.
	DefaultAddr = "127.0.0.1:8080"
	// DefaultMaxCalls is how many calls grandma takes at once.
	DefaultMaxCalls = 200
	// MaxLines bounds the lines one call may say to grandma: a call has
	// three; a peer that says more is cut off.
	MaxLines = wire.MaxLines
	// ReadHeaderTimeout bounds a request's headers (a slowloris is closed
	// after it), beyond one round trip of the emulated link: as for every
	// grandma.
	ReadHeaderTimeout = call.ReadHeaderTimeout
	// IdleTimeout bounds a kept-alive connection with no request: longer
	// than a grandma's in one process, since a student's browser keeps its
	// connections for the next call.
	IdleTimeout = 30 * time.Second
	// MaxHeaderBytes bounds a request's headers, as for every grandma.
	MaxHeaderBytes = call.MaxHeaderBytes
	// PingEvery and PongWait drop a phone caller that has gone: a pong must
	// come within PongWait of each ping.
	PingEvery = 2 * time.Second
	PongWait  = 3 * time.Second
	// ShutdownTimeout bounds how long in-flight walkie answers may take to
	// finish once the server is told to stop; then they are cut.
	ShutdownTimeout = 800 * time.Millisecond
	// callSlack is how long past its script a walkie call may last before
	// it is dropped, whatever the grandchild is doing.
	callSlack = 30 * time.Second
	// goneAfter is how long a walkie call may have no request in progress
	// and no connection open before grandma takes it that the grandchild
	// has hung up, and frees its place.
	goneAfter = 2 * time.Second
)

// Config configures a server. The zero value of a field means its default.
type Config struct {
	// Listener is where grandma takes calls; required.
	Listener net.Listener
	// Latency is the emulated link's one-way delay, added on the server's
	// side of every connection.
	Latency time.Duration
	// MaxCalls bounds the calls at once (DefaultMaxCalls).
	MaxCalls int
	// AllowOrigins lists the origins, such as http://teacher.local:8080,
	// whose pages may call on the phone besides the server's own.
	AllowOrigins []string
	// Logger gets one line per call; nil logs nothing.
	Logger *slog.Logger
	// PingEvery, PongWait and ReadHeaderTimeout override the defaults, for
	// tests.
	PingEvery, PongWait, ReadHeaderTimeout time.Duration
}

// Server is grandma, serving calls.
type Server struct {
	cfg   Config
	log   *slog.Logger
	srv   *http.Server
	calls sync.WaitGroup

	// walkieCtx ends when in-flight walkie answers must stop; phoneCtx when
	// phone calls must hang up (at once, on shutdown, with 1001).
	walkieCtx, phoneCtx       context.Context
	cancelWalkie, cancelPhone context.CancelFunc

	mu      sync.Mutex
	active  int
	walkies map[string]*walkieCall
	nextID  int
}

// New returns a server for cfg. Serve starts it.
func New(cfg Config) (*Server, error) {
	if cfg.Listener == nil {
		return nil, errors.New("classroom: no listener")
	}
	if cfg.Latency < 0 || cfg.Latency > call.MaxLatency {
		return nil, fmt.Errorf("classroom: latency %v: want 0 to %v", cfg.Latency, call.MaxLatency)
	}
	if cfg.MaxCalls == 0 {
		cfg.MaxCalls = DefaultMaxCalls
	}
	if cfg.MaxCalls < 0 {
		return nil, fmt.Errorf("classroom: max calls %d: want at least 1", cfg.MaxCalls)
	}
	if cfg.PingEvery == 0 {
		cfg.PingEvery = PingEvery
	}
	if cfg.PongWait == 0 {
		cfg.PongWait = PongWait
	}
	if cfg.ReadHeaderTimeout == 0 {
		cfg.ReadHeaderTimeout = ReadHeaderTimeout
	}
	for _, o := range cfg.AllowOrigins {
		if err := CheckOrigin(o); err != nil {
			return nil, err
		}
	}
	s := &Server{cfg: cfg, log: cfg.Logger, walkies: map[string]*walkieCall{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.walkieCtx, s.cancelWalkie = context.WithCancel(context.Background())
	s.phoneCtx, s.cancelPhone = context.WithCancel(context.Background())
	mux := http.NewServeMux()
	mux.HandleFunc(halfduplex.Path, s.walkie)
	mux.HandleFunc(fullduplex.Path, s.phone)
	mux.Handle("/", webpage.Handler())
	version := strconv.Itoa(wire.Version)
	rt := 2 * cfg.Latency
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Every answer says it is grandma's, so that a caller can
			// tell her refusals from another server's.
			w.Header().Set(wire.HeaderVersion, version)
			mux.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout + rt,
		ReadTimeout:       cfg.ReadHeaderTimeout + rt, // a walkie line is small; a WebSocket clears it
		IdleTimeout:       IdleTimeout + rt,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          log.New(io.Discard, "", 0),
		BaseContext:       func(net.Listener) context.Context { return s.walkieCtx },
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if mc, ok := c.(*meteredConn); ok {
				return context.WithValue(ctx, connKey{}, mc)
			}
			return ctx
		},
	}
	return s, nil
}

// CheckOrigin says what is wrong with an origin given to AllowOrigins:
// it must be a scheme and a host, such as http://teacher.local:8080.
func CheckOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || o == "*" {
		return fmt.Errorf("origin %q: want a scheme and host such as http://teacher.local:8080 (a list of origins, never everything)", o)
	}
	return nil
}

// Serve takes calls until ctx ends, then stops taking them, hangs up the
// phone calls with 1001 (going away), lets walkie answers finish for at
// most ShutdownTimeout before cutting them, and returns once everything it
// started has ended, within about a second.
func (s *Server) Serve(ctx context.Context) error {
	ln := &meteredListener{Listener: s.cfg.Listener, latency: s.cfg.Latency}
	served := make(chan error, 1)
	go func() { served <- s.srv.Serve(ln) }()
	var err error
	select {
	case err = <-served:
	case <-ctx.Done():
	}
	s.cancelPhone()
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	shut := make(chan struct{})
	go func() {
		defer close(shut)
		_ = s.srv.Shutdown(sctx) // stops accepting; waits for answers in flight
	}()
	select {
	case <-shut:
	case <-sctx.Done():
	}
	cancel()
	s.cancelWalkie()
	_ = s.srv.Close() // cuts what is still open
	<-shut
	s.calls.Wait()
	if err == nil || errors.Is(err, http.ErrServerClosed) {
		select {
		case err = <-served:
		default:
		}
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// begin counts a new call in, unless grandma is on as many as she takes.
func (s *Server) begin() (id int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active >= s.cfg.MaxCalls {
		return 0, false
	}
	s.active++
	s.nextID++
	return s.nextID, true
}

func (s *Server) end() {
	s.mu.Lock()
	s.active--
	s.mu.Unlock()
}

// refuse answers a call grandma will not take, and logs it.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, mode string, status int, why string) {
	s.log.Info("refused", "mode", mode, "peer", r.RemoteAddr, "status", status, "why", why)
	http.Error(w, why, status)
}

// busy answers a call grandma cannot take now.
func (s *Server) busy(w http.ResponseWriter, r *http.Request, mode string) {
	w.Header().Set("Retry-After", "1")
	calls := "calls"
	if s.cfg.MaxCalls == 1 {
		calls = "call"
	}
	s.refuse(w, r, mode, http.StatusServiceUnavailable, fmt.Sprintf("grandma is on %d %s, as many as she takes: try again in a moment", s.cfg.MaxCalls, calls))
}

// walkieCall is one call over HTTP: several requests, one grandma.
type walkieCall struct {
	id    int
	g     *halfduplex.Grandma
	peer  string
	start time.Time

	mu    sync.Mutex
	lines int
	conns []*meteredConn
	// busy counts the call's requests in progress; idleSince is when the
	// last one ended.
	busy      int
	idleSince time.Time
}

// gone says whether the grandchild has hung up: no request of hers in
// progress, and every connection she used closed, for longer than goneAfter.
func (c *walkieCall) gone(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.busy > 0 || now.Sub(c.idleSince) < goneAfter {
		return false
	}
	for _, conn := range c.conns {
		if !conn.closed.Load() {
			return false
		}
	}
	return true
}

// walkie takes one request of a walkie call: the question starts the call,
// the others must name it.
func (s *Server) walkie(w http.ResponseWriter, r *http.Request) {
	if err := wire.CheckVersion(r.Header.Get(wire.HeaderVersion), "grandchild"); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	callID := r.Header.Get(wire.HeaderCall)
	if !wire.ValidCallID(callID) {
		http.Error(w, "a walkie request must name its call in the "+wire.HeaderCall+" header", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	c := s.walkies[callID]
	s.mu.Unlock()
	if c == nil {
		if r.URL.RawQuery == "" {
			http.Error(w, "no such call: it has ended, or never began with a question", http.StatusNotFound)
			return
		}
		script, err := wire.ParseScript(r.URL.Query())
		if err != nil {
			s.refuse(w, r, halfduplex.Mode().Key, http.StatusBadRequest, "grandma cannot play that script: "+err.Error())
			return
		}
		if c = s.startWalkie(callID, script, r.RemoteAddr); c == nil {
			s.busy(w, r, halfduplex.Mode().Key)
			return
		}
	}
	c.mu.Lock()
	c.lines++
	over := c.lines > MaxLines
	if conn, ok := r.Context().Value(connKey{}).(*meteredConn); ok && !slices.Contains(c.conns, conn) {
		c.conns = append(c.conns, conn)
	}
	c.busy++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.busy--
		c.idleSince = time.Now()
		c.mu.Unlock()
	}()
	if over {
		http.Error(w, fmt.Sprintf("a call says at most %d lines", MaxLines), http.StatusTooManyRequests)
		return
	}
	c.g.ServeHTTP(w, r)
}

// startWalkie begins a walkie call and the goroutines that run it beside
// its requests: grandma's remembering, and the end of the call when she
// has answered the goodbye, when the grandchild has been gone too long, or
// when the server stops. It returns nil when grandma takes no more calls.
func (s *Server) startWalkie(callID string, script story.Script, peer string) *walkieCall {
	s.mu.Lock()
	if c := s.walkies[callID]; c != nil { // two questions at once
		s.mu.Unlock()
		return c
	}
	s.mu.Unlock()
	id, ok := s.begin()
	if !ok {
		return nil
	}
	rec := timeline.NewSideRecorder(timeline.Server, script.LineLabel, nil)
	c := &walkieCall{id: id, g: halfduplex.NewGrandma(script, rec), peer: peer, start: time.Now(), idleSince: time.Now()}
	c.g.Tell(func() wire.Facts {
		c.mu.Lock()
		defer c.mu.Unlock()
		return wire.Facts{Connections: max(len(c.conns), 1), Latency: s.cfg.Latency}
	})
	s.mu.Lock()
	s.walkies[callID] = c
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(s.walkieCtx, script.GoodbyeAt+callSlack+4*s.cfg.Latency)
	s.calls.Add(2)
	go func() {
		defer s.calls.Done()
		c.g.Remember(ctx)
	}()
	go func() {
		defer s.calls.Done()
		defer cancel()
		check := time.NewTicker(goneAfter / 4)
		defer check.Stop()
		outcome := ""
		for outcome == "" {
			select {
			case <-c.g.Done():
				outcome = "ok"
			case now := <-check.C:
				if c.gone(now) {
					outcome = "dropped: the grandchild hung up"
				}
			case <-ctx.Done():
				outcome = "dropped: the grandchild stopped calling"
				if s.walkieCtx.Err() != nil {
					outcome = "cut: the server stopped"
				}
			}
		}
		s.mu.Lock()
		delete(s.walkies, callID)
		s.mu.Unlock()
		s.end()
		c.mu.Lock()
		var in, out int64
		for _, conn := range c.conns {
			in, out = in+conn.meter.Read(), out+conn.meter.Written()
		}
		lines := c.lines
		c.mu.Unlock()
		s.logCall(c.id, halfduplex.Mode().Key, c.peer, time.Since(c.start), in, out, lines, outcome)
	}()
	return c
}

// phone takes one phone call: the WebSocket opening handshake, then the
// whole call.
func (s *Server) phone(w http.ResponseWriter, r *http.Request) {
	script, err := wire.ParseScript(r.URL.Query())
	if err != nil {
		s.refuse(w, r, fullduplex.Mode().Key, http.StatusBadRequest, "grandma cannot play that script: "+err.Error())
		return
	}
	id, ok := s.begin()
	if !ok {
		s.busy(w, r, fullduplex.Mode().Key)
		return
	}
	defer s.end()
	s.calls.Add(1)
	defer s.calls.Done()
	start := time.Now()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(s.phoneCtx, cancel)()
	rec := timeline.NewSideRecorder(timeline.Server, script.LineLabel, nil)
	g := fullduplex.NewGrandma(script, rec, fullduplex.Served{
		CheckOrigin: s.checkOrigin,
		Latency:     s.cfg.Latency,
		PingEvery:   s.cfg.PingEvery,
		PongWait:    s.cfg.PongWait,
		MaxLines:    MaxLines,
	})
	out := g.ServeCall(w, r.WithContext(ctx))
	var in, sent int64
	if conn, ok := r.Context().Value(connKey{}).(*meteredConn); ok {
		in, sent = conn.meter.Read(), conn.meter.Written()
	}
	lines := 0
	for _, m := range rec.Finish().Messages {
		if m.From == timeline.Client {
			lines++
		}
	}
	if out == "" {
		return // the handshake failed; the upgrader has answered
	}
	s.logCall(id, fullduplex.Mode().Key, r.RemoteAddr, time.Since(start), in, sent, lines, out)
}

// checkOrigin is gorilla's same-origin rule, widened by AllowOrigins: a
// request with no Origin (not from a browser) or from the server's own
// origin, or from one listed.
func (s *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, o := range s.cfg.AllowOrigins {
		if strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	return false
}

func (s *Server) logCall(id int, mode, peer string, d time.Duration, in, out int64, lines int, outcome string) {
	s.log.Info("call", "id", id, "mode", mode, "peer", peer, "duration_ms", d.Milliseconds(),
		"bytes_in", in, "bytes_out", out, "lines_heard", lines, "outcome", outcome)
}

// connKey keys a connection in its requests' contexts.
type connKey struct{}

// meteredListener puts each accepted connection behind the emulated link
// and a meter of its own.
type meteredListener struct {
	net.Listener
	latency time.Duration
}

func (l *meteredListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	m := new(link.Meter)
	conn := link.Wrap(c, l.latency, m, nil)
	if l.latency > 0 {
		conn = newHandshaking(conn, 2*l.latency)
	}
	return &meteredConn{Conn: conn, meter: m}, nil
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

type meteredConn struct {
	net.Conn
	meter  *link.Meter
	closed atomic.Bool
}

func (c *meteredConn) Close() error {
	c.closed.Store(true)
	return c.Conn.Close()
}
