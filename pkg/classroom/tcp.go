package classroom

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/rawtcp"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// tcp takes one raw TCP call: a request that asks to switch its connection
// to lines (rawtcp.CheckUpgrade), answered 101, then the whole call on the
// connection, bounded by its script: a silence longer than it allows, a
// call longer than it lasts, or more lines than a call says, and grandma
// hangs up. With no protocol under way, hanging up is all she can do.
func (s *Server) tcp(w http.ResponseWriter, r *http.Request) {
	key := rawtcp.Mode().Key
	if err := rawtcp.CheckUpgrade(r); err != nil {
		w.Header().Set("Upgrade", rawtcp.Protocol)
		w.Header().Set("Connection", "Upgrade")
		s.refuse(w, r, key, http.StatusUpgradeRequired, err.Error())
		return
	}
	if !s.checkOrigin(r) {
		s.refuse(w, r, key, http.StatusForbidden, "a page from "+r.Header.Get("Origin")+" may not call grandma")
		return
	}
	script, err := wire.ParseScript(r.URL.Query())
	if err != nil {
		s.refuse(w, r, key, http.StatusBadRequest, "grandma cannot play that script: "+err.Error())
		return
	}
	id, ok := s.begin()
	if !ok {
		s.busy(w, r, key)
		return
	}
	defer s.end()
	s.calls.Add(1)
	defer s.calls.Done()
	awaited := s.begun(r.URL.Query().Get(wire.QueryCall), id, rawtcp.Mode(), script)
	start := time.Now()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(s.phoneCtx, cancel)() // hang up at once when Serve stops
	rec := timeline.NewSideRecorder(timeline.Server, script.LineLabel, nil)
	silence, whole := s.cfg.Bounds(script)
	g := rawtcp.NewGrandma(script, rec, rawtcp.Served{
		Latency:   s.cfg.Latency,
		MaxLines:  MaxLines,
		Silence:   silence,
		Limit:     whole,
		CloseWait: CloseWait + 2*s.cfg.Latency,
	})
	conn, err := rawtcp.Switch(w)
	if err != nil {
		s.log.Info("refused", "mode", key, "peer", r.RemoteAddr, "status", http.StatusBadRequest, "why", err.Error())
		s.finish(awaited, false, rec.Finish(), 0, 0, 1, nil)
		return
	}
	mc, metered := conn.(*meteredConn)
	if metered {
		conn = halfClosing{mc}
	}
	out := g.ServeConn(ctx, conn) // closes conn
	var in, sent int64
	var perConn []result.ConnBytes
	if metered {
		in, sent = mc.sinceAnswered() // the upgrade's request and answer included
		perConn = connBytes(mc, in, sent)
	}
	hers := rec.Finish()
	s.finish(awaited, out == "ok", hers, in, sent, 1, perConn)
	s.logCall(id, key, r.RemoteAddr, time.Since(start), in, sent, linesHeard(hers), out)
}

// halfClosing is a connection grandma took over from net/http, still
// metered, that keeps the half-close of the emulated link under it: a raw
// TCP call ends with one. The server's connections do not offer it to
// net/http, which would wait half a second before closing each.
type halfClosing struct{ *meteredConn }

// CloseWrite shuts down grandma's writing side, behind the bytes already
// on the link: the grandchild reads them, then the end of the stream.
func (c halfClosing) CloseWrite() error {
	var conn net.Conn = c.meteredConn.Conn
	if h, ok := conn.(*handshaking); ok {
		conn = h.Counted
	}
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
