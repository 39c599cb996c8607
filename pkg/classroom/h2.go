package classroom

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/h2"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// The HTTP/2 limits of grandma's server, beside call.HTTP2's: what a peer
// may send on a connection, or on one stream, before she has read it. A
// call's lines are a few hundred bytes, but for a photo; Go's default for a
// connection (1 MiB) would let a few hundred peers hold hundreds of
// megabytes.
const (
	// H2ReceiveBufferPerStream is what a stream may have in flight, as
	// in one process (call.StreamWindow): HTTP/2's own initial window, so
	// that a photo crosses at the link's pace as it does there.
	H2ReceiveBufferPerStream = call.StreamWindow
	// H2ReceiveBufferPerConnection holds two streams' windows, the call's
	// and an urgent line's: a photo filling its stream's window leaves
	// the interruption room to overtake it, as in one process.
	H2ReceiveBufferPerConnection = 2 * H2ReceiveBufferPerStream
)

// http2Config is the HTTP/2 configuration of grandma's server.
func http2Config() *http.HTTP2Config {
	c := call.HTTP2()
	c.MaxReceiveBufferPerConnection = H2ReceiveBufferPerConnection
	c.MaxReceiveBufferPerStream = H2ReceiveBufferPerStream
	return c
}

// h2Calls takes calls over HTTP/2 (h2.Prefix): the call's stream (h2.Path),
// which carries its script in its query and starts it, and the streams of
// its urgent lines (h2.UrgentPath), which belong to the call whose stream
// is open on their connection. A connection carries one call at a time.
type h2Calls struct {
	s  *Server
	mu sync.Mutex
	// calls are the calls under way, by their connection.
	calls map[*meteredConn]*h2.Grandma
}

// h2Calls returns the handler of the calls over HTTP/2.
func (s *Server) h2Calls() http.Handler {
	return &h2Calls{s: s, calls: map[*meteredConn]*h2.Grandma{}}
}

func (hc *h2Calls) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s, key := hc.s, h2.Mode().Key
	if r.ProtoMajor != 2 {
		// Answered at once, without reading a request that may never end
		// (EnableFullDuplex), and read no further.
		rc := http.NewResponseController(w)
		_ = rc.EnableFullDuplex()
		s.refuse(w, r, key, http.StatusHTTPVersionNotSupported, h2.NotHTTP2)
		_ = rc.SetReadDeadline(time.Now()) // it is all the same if it cannot
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.refuse(w, r, key, http.StatusMethodNotAllowed, "call grandma with POST")
		return
	}
	if !s.checkOrigin(r) {
		s.refuse(w, r, key, http.StatusForbidden, "a page from "+r.Header.Get("Origin")+" may not call grandma here")
		return
	}
	conn, ok := r.Context().Value(connKey{}).(*meteredConn)
	if !ok {
		s.refuse(w, r, key, http.StatusInternalServerError, "grandma cannot tell which connection this is")
		return
	}
	switch r.URL.Path {
	case h2.Path:
		hc.call(w, r, conn)
	case h2.UrgentPath:
		hc.urgent(w, r, conn)
	default:
		http.NotFound(w, r)
	}
}

// call takes the call's stream, and the whole call with it. Its bytes are
// all its connection carried, from its preface to its end, or to a moment
// (CloseWait) after the call's stream ended: the grandchild opens the
// connection for the call, and closes it once the stream has ended.
func (hc *h2Calls) call(w http.ResponseWriter, r *http.Request, conn *meteredConn) {
	s, key := hc.s, h2.Mode().Key
	script, err := wire.ParseScript(r.URL.Query())
	if err != nil {
		s.refuse(w, r, key, http.StatusBadRequest, "grandma cannot play that script: "+err.Error())
		return
	}
	rec := timeline.NewSideRecorder(timeline.Server, script.LineLabel, nil)
	silence, whole := s.cfg.Bounds(script)
	g := h2.NewGrandma(script, rec, h2.Served{Latency: s.cfg.Latency, MaxLines: MaxLines, Silence: silence, Limit: whole})
	hc.mu.Lock()
	if hc.calls[conn] != nil {
		hc.mu.Unlock()
		s.refuse(w, r, key, http.StatusConflict, "a call is under way on this connection: open another for another call")
		return
	}
	id, ok := s.begin()
	if ok {
		hc.calls[conn] = g
	}
	hc.mu.Unlock()
	if !ok {
		s.busy(w, r, key)
		return
	}
	defer func() {
		hc.mu.Lock()
		delete(hc.calls, conn)
		hc.mu.Unlock()
	}()
	s.calls.Add(1)
	awaited := s.begun(r.URL.Query().Get(wire.QueryCall), id, h2.Mode(), script)
	start, peer := time.Now(), r.RemoteAddr
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(s.phoneCtx, cancel)() // the server is stopping: hang up at once
	last := newLastByte()
	conn.serving(last)
	outcome := callOutcome(g.ServeCall(w, r.WithContext(ctx)), s.phoneCtx)
	hers := rec.Finish()
	go func() {
		defer s.calls.Done()
		defer s.end()
		last.wait(ShutdownTimeout, s.walkieCtx.Done())
		// The call's stream has ended, its last frame maybe still in the
		// server's buffer: the connection's end (the grandchild hangs up
		// once she has read it) says it has gone out.
		hungUp := newLastByte()
		conn.serving(hungUp)
		hungUp.wait(CloseWait+2*s.cfg.Latency, s.walkieCtx.Done())
		in, out := conn.read.Load(), conn.written.Load()
		s.finish(awaited, outcome == "ok", hers, in, out, 1, connBytes(conn, in, out))
		s.logCall(id, key, peer, time.Since(start), in, out, linesHeard(hers), outcome)
	}()
}

// urgent takes an urgent line's stream: grandma of the call on its
// connection hears it, and answers on it.
func (hc *h2Calls) urgent(w http.ResponseWriter, r *http.Request, conn *meteredConn) {
	if err := wire.CheckVersion(r.Header.Get(wire.HeaderVersion), "grandchild"); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	hc.mu.Lock()
	g := hc.calls[conn]
	hc.mu.Unlock()
	if g == nil {
		http.Error(w, "no call on this connection: an urgent line goes on the connection of its call, while the call's stream is open ("+h2.Path+")", http.StatusNotFound)
		return
	}
	g.ServeUrgent(w, r)
}
