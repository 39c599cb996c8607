package classroom

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// noSuchCall answers a walkie request that names no call of grandma's.
const noSuchCall = "no such call: it has ended, or never began (a call begins with the question, its script as the query)"

// walkieCall is one call over HTTP: several requests, on one connection
// or several (a browser opens a second to get a word in; curl one a line),
// one grandma.
type walkieCall struct {
	id  int
	g   *halfduplex.Grandma
	rec *timeline.Recorder
	// bodyWait bounds a request's body, from when its handler begins, in
	// a call with a photo: long enough for the photo to cross (0 leaves
	// the server's ReadTimeout).
	bodyWait time.Duration
	// report is the call as the class experiment awaits its report.
	report *ended
	peer   string
	start  time.Time
	// ended is closed when the call is over: its requests still under way
	// are cut.
	ended <-chan struct{}
	// answeredOne gets a token whenever one of its requests has been
	// answered to its last byte.
	answeredOne chan struct{}

	mu    sync.Mutex
	lines int
	conns []*meteredConn
	// busy counts the call's requests begun and not yet answered to their
	// last byte; quietSince is when the last one was.
	busy       int
	quietSince time.Time
	// in and out are the bytes of the call's requests and answers.
	in, out int64
	over    bool
}

// take counts a request in, on conn, unless the call is over.
func (c *walkieCall) take(conn *meteredConn) (lines int, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.over {
		return 0, false
	}
	c.lines++
	c.busy++
	if conn != nil && !slices.Contains(c.conns, conn) {
		c.conns = append(c.conns, conn)
	}
	return c.lines, true
}

// answered is told by the request's connection that its answer has gone
// out to its last byte, and what the request and answer took.
func (c *walkieCall) answered(in, out int64) {
	c.mu.Lock()
	c.in += in
	c.out += out
	c.busy--
	c.quietSince = time.Now()
	c.mu.Unlock()
	select {
	case c.answeredOne <- struct{}{}:
	default:
	}
}

// silent says whether the grandchild has said nothing for longer than
// silence: no request of hers under way, and none answered since.
func (c *walkieCall) silent(now time.Time, silence time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.busy == 0 && now.Sub(c.quietSince) >= silence
}

// allAnswered waits until every request of the call has been answered to
// its last byte, for at most wait or until stop is closed.
func (c *walkieCall) allAnswered(wait time.Duration, stop <-chan struct{}) {
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		c.mu.Lock()
		busy := c.busy
		c.mu.Unlock()
		if busy <= 0 {
			return
		}
		select {
		case <-c.answeredOne:
		case <-t.C:
			return
		case <-stop:
			return
		}
	}
}

// walkie takes one request of a walkie call: the question starts the call,
// the others must name it.
func (s *Server) walkie(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor != 1 {
		// Its bytes are counted a request at a time on a connection, as
		// HTTP/1.1 carries them; HTTP/2 has a mode of its own.
		s.refuse(w, r, modeOf(r), http.StatusHTTPVersionNotSupported, "the walkie-talkie is HTTP/1.1: call it without HTTP/2")
		return
	}
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
		if c = s.startWalkie(w, r, callID); c == nil {
			return // it has answered
		}
	}
	conn, _ := r.Context().Value(connKey{}).(*meteredConn)
	lines, ok := c.take(conn)
	if !ok {
		http.Error(w, noSuchCall, http.StatusNotFound)
		return
	}
	if conn != nil {
		conn.serving(c)
	} else {
		defer c.answered(0, 0)
	}
	if lines > MaxLines {
		http.Error(w, fmt.Sprintf("a call says at most %d lines", MaxLines), http.StatusTooManyRequests)
		return
	}
	if c.bodyWait > 0 {
		// The photo's body may take longer than a line's ReadTimeout.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(c.bodyWait)) // the ReadTimeout stays if it cannot
	}
	// The request ends with the call.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-c.ended:
			cancel()
		case <-ctx.Done():
		}
	}()
	c.g.ServeHTTP(w, r.WithContext(ctx))
}

// startWalkie begins a walkie call for a request that names none of
// grandma's, if it is the question with a script, and the goroutines that
// run the call beside its requests: grandma's remembering, and the end of
// the call when she has answered the goodbye, when the grandchild has been
// silent longer than the script allows, when the call outlasts its script,
// or when the server stops. It returns nil when it has answered the
// request itself: 404 if it is not the question (no such call), 400 for a
// bad script, 503 when grandma takes no more calls.
func (s *Server) startWalkie(w http.ResponseWriter, r *http.Request, callID string) *walkieCall {
	// A call begins with the question, never longer than call.MaxLine:
	// the script's photo (Script.MaxGrandchildLine) comes later, to
	// grandma's own handler, which reads as much as it.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, call.MaxLine))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			if r.URL.RawQuery == "" { // a later line of a call that has ended, such as its photo
				http.Error(w, noSuchCall, http.StatusNotFound)
				return nil
			}
			http.Error(w, fmt.Sprintf("a line may be at most %d bytes", call.MaxLine), http.StatusRequestEntityTooLarge)
			return nil
		}
		http.Error(w, "could not read the request body", http.StatusBadRequest)
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body)) // for grandma to hear
	if label, _ := story.Default().Label(string(body)); r.Method != http.MethodPost || label != story.LabelQuestion || r.URL.RawQuery == "" {
		http.Error(w, noSuchCall, http.StatusNotFound)
		return nil
	}
	script, err := wire.ParseScript(r.URL.Query())
	if err != nil {
		s.refuse(w, r, halfduplex.Mode().Key, http.StatusBadRequest, "grandma cannot play that script: "+err.Error())
		return nil
	}
	silence, whole := s.cfg.Bounds(script)
	ctx, cancel := context.WithTimeout(s.walkieCtx, whole)
	rec := timeline.NewSideRecorder(timeline.Server, script.LineLabel, nil)
	now := time.Now()
	c := &walkieCall{g: halfduplex.NewGrandma(script, rec), rec: rec, peer: r.RemoteAddr, start: now, quietSince: now,
		ended: ctx.Done(), answeredOne: make(chan struct{}, 1)}
	if script.Photo != "" {
		c.bodyWait = s.cfg.ReadHeaderTimeout + 2*s.cfg.Latency + script.PhotoTime()
	}
	c.g.Tell(func() wire.Facts {
		c.mu.Lock()
		defer c.mu.Unlock()
		return wire.Facts{Connections: max(len(c.conns), 1), Latency: s.cfg.Latency}
	})
	s.mu.Lock()
	if other := s.walkies[callID]; other != nil { // two questions at once
		s.mu.Unlock()
		cancel()
		return other
	}
	id, ok := s.beginLocked()
	if ok {
		c.id = id
		s.walkies[callID] = c
	}
	s.mu.Unlock()
	if !ok {
		cancel()
		s.busy(w, r, halfduplex.Mode().Key)
		return nil
	}
	c.report = s.begun(callID, id, halfduplex.Mode(), script)
	s.calls.Add(2)
	go func() {
		defer s.calls.Done()
		c.g.Remember(ctx)
	}()
	go func() {
		defer s.calls.Done()
		defer cancel()
		check := time.NewTicker(min(max(silence/16, 10*time.Millisecond), 500*time.Millisecond))
		defer check.Stop()
		outcome := ""
		for outcome == "" {
			select {
			case <-c.g.Done():
				// Her farewell is said; its answer's last bytes (the
				// terminating chunk) go out after her handler returns.
				outcome = "ok"
			case now := <-check.C:
				if c.silent(now, silence) {
					outcome = fmt.Sprintf("dropped: the grandchild said nothing for %v", silence.Round(time.Millisecond))
				}
			case <-ctx.Done():
				outcome = fmt.Sprintf("dropped: the call outlasted its script (%v at most)", whole.Round(time.Millisecond))
				if s.walkieCtx.Err() != nil {
					outcome = "cut: the server stopped"
				}
			}
		}
		// Her requests still under way end with the call; their bytes are
		// counted once they have.
		cancel()
		c.allAnswered(ShutdownTimeout, s.walkieCtx.Done())
		s.mu.Lock()
		delete(s.walkies, callID)
		s.mu.Unlock()
		s.end()
		c.mu.Lock()
		c.over = true
		in, out, lines := c.in, c.out, c.lines
		var perConn []result.ConnBytes
		if len(c.conns) == 1 { // else the bytes of each are not told apart
			perConn = connBytes(c.conns[0], in, out)
		}
		conns := len(c.conns)
		c.mu.Unlock()
		s.finish(c.report, outcome == "ok", c.rec.Finish(), in, out, conns, perConn)
		s.logCall(c.id, halfduplex.Mode().Key, c.peer, time.Since(c.start), in, out, lines, outcome)
	}()
	return c
}
