// Package classroom serves grandma alone, for grandchildren on other
// machines: the teacher runs one server and every student's duplexdemo
// calls it, over the walkie-talkie (HTTP/1.1, at halfduplex.Path) or the
// phone (a WebSocket, at fullduplex.Path). Each caller gets a call of her
// own, many at once, and grandma hands her record of each call back at
// its end (package wire), so that the student sees both sides.
//
// A server on a classroom network meets slow, broken and hostile peers, so
// everything is bounded: header and body sizes and times, message sizes,
// every call by its script (a caller who says nothing is dropped, pings or
// no pings), the number of calls at once (and by the open files the
// process may have), and the lines one call may say.
package classroom

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/class"
	"github.com/duplexdemo/duplexdemo/pkg/classroom/webpage"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/h1full"
	"github.com/duplexdemo/duplexdemo/pkg/h2"
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
	"github.com/duplexdemo/duplexdemo/pkg/rawtcp"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/webtransport"
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
	// MaxHeaderBytes bounds a request's head, in bytes: its request line
	// and headers, each line's CRLF and the blank line included. Past it
	// the answer is 431.
	MaxHeaderBytes = call.MaxHeaderBytes
	// PingEvery and PongWait drop a phone caller that has gone: a pong must
	// come within PongWait of each ping.
	PingEvery = 2 * time.Second
	PongWait  = 3 * time.Second
	// ShutdownTimeout bounds how long in-flight walkie answers may take to
	// finish once the server is told to stop; then they are cut.
	ShutdownTimeout = 800 * time.Millisecond
	// SilenceGrace is how much longer than its script allows a call may
	// go without a line from the grandchild: the script never leaves her
	// silent longer than its goodbye's time. Past it she is dropped (a
	// forgotten tab, a caller who quit), whatever pings and idle
	// connections say.
	SilenceGrace = 10 * time.Second
	// CallGrace is how long past its script (its goodbye's time) a call
	// may last in all, whatever the grandchild does.
	CallGrace = 30 * time.Second
	// CloseWait bounds how long grandma waits for a phone caller's close
	// frame after hers before closing the connection: short, so that a
	// shutdown ends within a second.
	CloseWait = 500 * time.Millisecond
	// FileReserve is how many of the open files the process may have are
	// kept out of the calls' reach: for grandma herself (her listener, the
	// runtime's own) and for answering 503 to callers past the limit.
	FileReserve = 16
	// ConnsPerCall is how many connections a call is counted to hold at
	// once: a browser's walkie call opens a second one to get a word in.
	ConnsPerCall = 2
)

// Config configures a server. The zero value of a field means its default.
type Config struct {
	// Listener is where grandma takes calls; required.
	Listener net.Listener
	// Latency is the emulated link's one-way delay, added on the server's
	// side of every connection.
	Latency time.Duration
	// MaxCalls bounds the calls at once (DefaultMaxCalls); fewer if the
	// process may not open enough files for them (see CallsForFiles).
	MaxCalls int
	// AllowOrigins lists the origins, such as http://teacher.local:8080,
	// whose pages may call on the phone besides the server's own.
	AllowOrigins []string
	// Logger gets one line per call, and what goes wrong in the server
	// itself (a connection it cannot accept); nil logs nothing.
	Logger *slog.Logger
	// OpenFiles is how many files the process may have open; 0 reads it
	// from the system (RLIMIT_NOFILE), where there is such a limit.
	OpenFiles int
	// Packet, if not nil, is a UDP socket on which grandma takes
	// WebTransport calls (HTTP/3 over QUIC), behind the same emulated
	// link; Serve closes it.
	Packet net.PacketConn
	// Class is the class experiment the calls are reported to; nil keeps
	// one in memory, for as long as the server runs.
	Class *class.Room
	// TeacherToken lets the teacher's view start a new experiment; empty
	// means a new random one (Server.TeacherToken).
	TeacherToken string
	// PingEvery, PongWait, ReadHeaderTimeout, SilenceGrace and CallGrace
	// override the defaults, for tests.
	PingEvery, PongWait, ReadHeaderTimeout time.Duration
	SilenceGrace, CallGrace                time.Duration
}

// Bounds returns how long a call of script s may go without a line from
// the grandchild (silence), and how long it may last in all (whole): the
// script's length, its goodbye's time, plus SilenceGrace or CallGrace,
// plus two round trips of the server's emulated link (a new connection's
// handshake, and the line's way).
func (c Config) Bounds(s story.Script) (silence, whole time.Duration) {
	silenceGrace, callGrace := c.SilenceGrace, c.CallGrace
	if silenceGrace == 0 {
		silenceGrace = SilenceGrace
	}
	if callGrace == 0 {
		callGrace = CallGrace
	}
	rt := 2 * c.Latency
	return s.GoodbyeAt + silenceGrace + 2*rt, s.GoodbyeAt + callGrace + 2*rt
}

// CallsForFiles returns how many calls at once fit in n open files: those
// left past FileReserve, ConnsPerCall a call; at least one.
func CallsForFiles(n int) int { return max((n-FileReserve)/ConnsPerCall, 1) }

// FilesForCalls returns how many open files n calls at once need.
func FilesForCalls(n int) int { return n*ConnsPerCall + FileReserve }

// Server is grandma, serving calls.
type Server struct {
	cfg   Config
	log   *slog.Logger
	srv   *http.Server
	calls sync.WaitGroup
	// maxCalls is Config.MaxCalls, or fewer if the open files allow fewer.
	maxCalls int
	// hosts are the Host headers she answers to; nil answers any.
	hosts map[string]bool
	// conns counts the connections open; past connsHigh each answer
	// closes its connection, so that idle ones do not use up the files.
	conns     atomic.Int64
	connsHigh int64

	// walkieCtx ends when in-flight walkie answers must stop; phoneCtx when
	// phone calls must hang up (at once, on shutdown, with 1001).
	walkieCtx, phoneCtx       context.Context
	cancelWalkie, cancelPhone context.CancelFunc

	// class is the class experiment: the calls ended and awaiting their
	// reports, the room they are reported to, the teacher's token.
	class *classState
	// wt is the WebTransport on Config.Packet, once Serve has started it.
	wt *webTransport

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
	if cfg.OpenFiles == 0 {
		cfg.OpenFiles = openFileLimit()
	}
	cls, err := newClass(cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, walkies: map[string]*walkieCall{}, maxCalls: cfg.MaxCalls, connsHigh: -1, class: cls}
	if cfg.OpenFiles > 0 {
		s.maxCalls = min(s.maxCalls, CallsForFiles(cfg.OpenFiles))
		budget := int64(cfg.OpenFiles - FileReserve)
		s.connsHigh = budget - budget/4
	}
	s.hosts = servedHosts(cfg.Listener.Addr())
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.walkieCtx, s.cancelWalkie = context.WithCancel(context.Background())
	s.phoneCtx, s.cancelPhone = context.WithCancel(context.Background())
	mux := http.NewServeMux()
	mux.HandleFunc(halfduplex.Path, s.walkie)
	mux.HandleFunc(fullduplex.Path, s.phone)
	mux.HandleFunc(h1full.Path, s.fullDuplex)
	mux.Handle(h2.Prefix, s.h2Calls())
	mux.HandleFunc(rawtcp.Path, s.tcp)
	mux.HandleFunc("GET /webtransport/", s.webTransport)
	mux.HandleFunc("POST "+wire.ReportPath, s.report)
	mux.HandleFunc("GET "+EventsPath, s.events)
	mux.HandleFunc("GET "+RecordJSONPath, s.download(false))
	mux.HandleFunc("GET "+RecordCSVPath, s.download(true))
	mux.HandleFunc("POST "+NewExperimentPath, s.newExperiment)
	mux.Handle("/", webpage.Handler())
	version := strconv.Itoa(wire.Version)
	rt := 2 * cfg.Latency
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if mc, ok := r.Context().Value(connKey{}).(*meteredConn); ok {
				defer mc.handlerReturned() // even when a handler panics to abort
			}
			// Every answer says it is grandma's, so that a caller can
			// tell her refusals from another server's.
			w.Header().Set(wire.HeaderVersion, version)
			if !s.hostServed(r.Host) {
				s.refuse(w, r, modeOf(r), http.StatusMisdirectedRequest, s.wrongHost(r.Host))
				return
			}
			if s.connsHigh >= 0 && s.conns.Load() > s.connsHigh {
				w.Header().Set("Connection", "close") // keep no file idle
			}
			mux.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout + rt,
		ReadTimeout:       cfg.ReadHeaderTimeout + rt, // a walkie line is small; a WebSocket clears it
		IdleTimeout:       IdleTimeout + rt,
		MaxHeaderBytes:    call.HTTPMaxHeaderBytes,
		Protocols:         call.Protocols(), // HTTP/2 (h2c) beside HTTP/1.1; ReadTimeout bounds each stream too
		HTTP2:             http2Config(),
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return s.walkieCtx },
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if mc, ok := c.(*meteredConn); ok {
				return context.WithValue(ctx, connKey{}, mc)
			}
			return ctx
		},
		// A request's answer has gone out to its last byte (the chunked
		// answer's terminating chunk included) when its connection goes
		// idle or closes: only then are its bytes counted to its call.
		ConnState: func(c net.Conn, state http.ConnState) {
			if mc, ok := c.(*meteredConn); ok && (state == http.StateIdle || state == http.StateClosed) {
				mc.answered()
			}
		},
	}
	return s, nil
}

// MaxCalls returns how many calls grandma takes at once: Config.MaxCalls,
// or fewer if the process may not open enough files for them.
func (s *Server) MaxCalls() int { return s.maxCalls }

// OpenFiles returns how many files the process may have open, as the
// server counts them; 0 if there is no such limit.
func (s *Server) OpenFiles() int { return s.cfg.OpenFiles }

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
	ln := newMeteredListener(s)
	served := make(chan error, 1)
	stopWT := func() {}
	if s.cfg.Packet != nil {
		var err error
		if stopWT, err = s.serveWebTransport(); err != nil {
			_ = ln.Close()
			_ = s.cfg.Packet.Close()
			return err
		}
	}
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
	stopWT()
	s.calls.Wait()
	if s.class.owned {
		_ = s.class.room.Close()
	}
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
	return s.beginLocked()
}

// beginLocked is begin, with s.mu held.
func (s *Server) beginLocked() (id int, ok bool) {
	if s.active >= s.maxCalls {
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

// modeOf names the mode a request is for, for the log: the page's, if
// neither.
func modeOf(r *http.Request) string {
	switch r.URL.Path {
	case halfduplex.Path:
		return halfduplex.Mode().Key
	case h1full.Path:
		return h1full.Mode().Key
	case h2.Path, h2.UrgentPath:
		return h2.Mode().Key
	case fullduplex.Path:
		return fullduplex.Mode().Key
	case rawtcp.Path:
		return rawtcp.Mode().Key
	case webtransport.InfoPath, webtransport.RecordPath:
		return webtransport.Mode().Key
	}
	return "page"
}

// refuse answers a call grandma will not take, and logs it.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, mode string, status int, why string) {
	s.log.Info("refused", "mode", mode, "peer", r.RemoteAddr, "status", status, "why", why)
	http.Error(w, why, status)
}

// busy answers a call grandma cannot take now, and closes its connection,
// so that a caller told to come back later holds no file meanwhile.
func (s *Server) busy(w http.ResponseWriter, r *http.Request, mode string) {
	w.Header().Set("Retry-After", "1")
	w.Header().Set("Connection", "close")
	calls := "calls"
	if s.maxCalls == 1 {
		calls = "call"
	}
	s.refuse(w, r, mode, http.StatusServiceUnavailable, fmt.Sprintf("grandma is on %d %s, as many as she takes: try again in a moment", s.maxCalls, calls))
}

// servedHosts returns the Host headers a server listening on addr answers
// to, or nil to answer any. On loopback, only this machine's own names for
// it, with the port: a page elsewhere that has its name point at 127.0.0.1
// (DNS rebinding) still says its own name, and is refused. On any other
// address students use whatever name or address reaches the teacher's
// machine, and nothing is checked (the phone still checks the Origin).
func servedHosts(addr net.Addr) map[string]bool {
	ta, ok := addr.(*net.TCPAddr)
	if !ok || !ta.IP.IsLoopback() {
		return nil
	}
	port := strconv.Itoa(ta.Port)
	hosts := map[string]bool{}
	for _, h := range []string{ta.IP.String(), "127.0.0.1", "localhost", "::1"} {
		hosts[net.JoinHostPort(h, port)] = true
		if ta.Port == 80 { // the default port may go unsaid
			hosts[strings.TrimSuffix(net.JoinHostPort(h, port), ":80")] = true
		}
	}
	return hosts
}

// hostServed says whether grandma answers to a request for host.
func (s *Server) hostServed(host string) bool {
	return s.hosts == nil || s.hosts[strings.ToLower(host)]
}

// wrongHost says why a request for host is refused, and where to go.
func (s *Server) wrongHost(host string) string {
	addr := s.cfg.Listener.Addr().(*net.TCPAddr) // servedHosts checks only on TCP
	return fmt.Sprintf("grandma listens on this machine only and answers only to its own names for it, such as localhost:%d, not to %q (a page from elsewhere?): open http://%s/",
		addr.Port, host, addr)
}
