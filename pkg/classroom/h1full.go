package classroom

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/h1full"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// fullDuplex takes one call over HTTP/1.1 in full duplex: one POST whose
// body the grandchild keeps writing while grandma writes her answer, its
// script in its query. The call is bounded by its script: a silence longer
// than it allows, or a call longer than it lasts, is hung up (her answer's
// trailer says why). Its bytes are counted once her answer has gone out to
// its last byte (the terminating chunk, written after the handler returns).
func (s *Server) fullDuplex(w http.ResponseWriter, r *http.Request) {
	key := h1full.Mode().Key
	rc := http.NewResponseController(w)
	// First: a refusal must go out without waiting for a request that
	// never ends, and then stop reading it.
	if err := h1full.FullDuplex(r, rc); err != nil {
		s.refuse(w, r, key, http.StatusHTTPVersionNotSupported, err.Error())
		return
	}
	refuse := func(status int, why string) {
		s.refuse(w, r, key, status, why)
		_ = rc.SetReadDeadline(time.Now()) // it is all the same if it cannot
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		refuse(http.StatusMethodNotAllowed, h1full.NotPost)
		return
	}
	if !s.checkOrigin(r) {
		refuse(http.StatusForbidden, "a page from "+r.Header.Get("Origin")+" may not call grandma here")
		return
	}
	script, err := wire.ParseScript(r.URL.Query())
	if err != nil {
		refuse(http.StatusBadRequest, "grandma cannot play that script: "+err.Error())
		return
	}
	id, ok := s.begin()
	if !ok {
		s.busy(w, r, key)
		_ = rc.SetReadDeadline(time.Now())
		return
	}
	s.calls.Add(1)
	awaited := s.begun(r.URL.Query().Get(wire.QueryCall), id, h1full.Mode(), script)
	start, peer := time.Now(), r.RemoteAddr
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(s.phoneCtx, cancel)() // the server is stopping: hang up at once
	rec := timeline.NewSideRecorder(timeline.Server, script.LineLabel, nil)
	silence, whole := s.cfg.Bounds(script)
	g := h1full.NewGrandma(script, rec, h1full.Served{Latency: s.cfg.Latency, MaxLines: MaxLines, Silence: silence, Limit: whole})
	conn, _ := r.Context().Value(connKey{}).(*meteredConn)
	last := newLastByte()
	if conn != nil {
		conn.serving(last)
	} else {
		last.answered(0, 0)
	}
	outcome := callOutcome(g.ServeCall(w, r.WithContext(ctx)), s.phoneCtx)
	hers := rec.Finish()
	go func() {
		defer s.calls.Done()
		defer s.end()
		in, out := last.wait(ShutdownTimeout, s.walkieCtx.Done())
		var perConn []result.ConnBytes
		if conn != nil {
			perConn = connBytes(conn, in, out)
		}
		s.finish(awaited, outcome == "ok", hers, in, out, 1, perConn)
		s.logCall(id, key, peer, time.Since(start), in, out, linesHeard(hers), outcome)
	}()
}

// callOutcome is how a call ended, for the log: "ok" after her farewell
// (hungUp is ""), "cut: the server stopped" if it was stopping (stopping
// has ended), and otherwise why she hung up.
func callOutcome(hungUp string, stopping context.Context) string {
	switch {
	case hungUp == "":
		return "ok"
	case stopping.Err() != nil:
		return "cut: the server stopped"
	}
	return "dropped: " + hungUp
}

// lastByte is told, by a call's connection, when the call's answer has
// gone out to its last byte (requestOwner): on HTTP/1.1 when its
// connection goes idle or closes after it, on HTTP/2 when no stream of the
// connection is open any more (the call's has ended) or it closes.
type lastByte struct {
	once    sync.Once
	done    chan struct{}
	in, out int64 // set before done is closed
}

func newLastByte() *lastByte { return &lastByte{done: make(chan struct{})} }

func (l *lastByte) answered(in, out int64) {
	l.once.Do(func() {
		l.in, l.out = in, out
		close(l.done)
	})
}

// wait waits until the answer has gone out, for at most d or until stop is
// closed, and returns the bytes the connection gave it.
func (l *lastByte) wait(d time.Duration, stop <-chan struct{}) (in, out int64) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-l.done:
		return l.in, l.out
	case <-t.C:
	case <-stop:
	}
	return 0, 0
}
