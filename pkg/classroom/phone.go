package classroom

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// phone takes one phone call: the WebSocket opening handshake, then the
// whole call, bounded by its script: a silence longer than it allows, or a
// call longer than it lasts, is hung up (1008), pings or no pings.
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
	awaited := s.begun(r.URL.Query().Get(wire.QueryCall), id, fullduplex.Mode(), script)
	start := time.Now()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(s.phoneCtx, cancel)()
	rec := timeline.NewSideRecorder(timeline.Server, script.LineLabel, nil)
	silence, whole := s.cfg.Bounds(script)
	g := fullduplex.NewGrandma(script, rec, fullduplex.Served{
		CheckOrigin: s.checkOrigin,
		Latency:     s.cfg.Latency,
		PingEvery:   s.cfg.PingEvery,
		PongWait:    s.cfg.PongWait + script.PhotoTime(), // a pong queues behind the photo
		MaxLines:    MaxLines,
		Silence:     silence,
		Limit:       whole,
		CloseWait:   CloseWait + 2*s.cfg.Latency,
	})
	out := g.ServeCall(w, r.WithContext(ctx))
	var in, sent int64
	var perConn []result.ConnBytes
	if conn, ok := r.Context().Value(connKey{}).(*meteredConn); ok {
		in, sent = conn.sinceAnswered()
		perConn = connBytes(conn, in, sent)
	}
	hers := rec.Finish()
	s.finish(awaited, out == "ok", hers, in, sent, 1, perConn)
	if out == "" {
		return // the handshake failed; the upgrader has answered
	}
	s.logCall(id, fullduplex.Mode().Key, r.RemoteAddr, time.Since(start), in, sent, linesHeard(hers), out)
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

// linesHeard counts the grandchild's lines in grandma's record of a call.
func linesHeard(hers *timeline.Timeline) int {
	n := 0
	for _, m := range hers.Messages {
		if m.From == timeline.Client {
			n++
		}
	}
	return n
}
