package classroom

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/class"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/view/report"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// The class experiment's paths, under webpage.ClassPath.
const (
	// EventsPath streams the experiment to the teacher's view, as
	// Server-Sent Events: a "snapshot" (a class.View) first and whenever a
	// new experiment starts, then "calls" ({"calls": [class.Row], "stats":
	// class.Stats}) as students report them.
	EventsPath = "/class/events"
	// RecordJSONPath and RecordCSVPath download the experiment.
	RecordJSONPath = "/class/record.json"
	RecordCSVPath  = "/class/record.csv"
	// NewExperimentPath starts a new experiment: a POST with the teacher's
	// token (Authorization: Bearer).
	NewExperimentPath = "/class/new"
)

// Limits of the class experiment.
const (
	// ReportWait is how long after a call ends its grandchild may report
	// it to the class.
	ReportWait = 2 * time.Minute
	// ReportLate is how long a report that comes while its call is still
	// ending (her last bytes going out) waits for it to end.
	ReportLate = 5 * time.Second
	// MaxViewers bounds the teacher's views open at once, and
	// MaxViewersPerPeer those from one address: a projector and a few
	// laptops, and no student can take them all.
	MaxViewers        = 64
	MaxViewersPerPeer = 4
	// MaxAwaiting bounds the calls kept for their reports: past it, the
	// oldest that have ended are forgotten first.
	MaxAwaiting = 4096
	// PingViewers is how often an idle view is sent a comment, so that it
	// and any proxy between know the stream is alive.
	PingViewers = 15 * time.Second
	// ViewerWriteWait bounds one write to a view: one that takes no data
	// for that long is let go.
	ViewerWriteWait = 10 * time.Second
)

// ended is a call grandma has served, waiting for its grandchild's report:
// what she knows of it. done is closed once the fields below it are set.
type ended struct {
	n      int // the call's id in the server's log
	mode   call.Mode
	script story.Script
	done   chan struct{}

	ok          bool // the call ended as its script says
	hers        *timeline.Timeline
	in, out     int64
	connections int
	perConn     []result.ConnBytes
	at          time.Time
	reported    bool
}

// classState is the server's side of the class experiment.
type classState struct {
	room  *class.Room
	owned bool // the server opened the room, and closes it
	token string

	mu      sync.Mutex
	calls   map[string]*ended
	viewers map[string]int // by peer address
	viewing int
}

// newClass sets up the class experiment of a server.
func newClass(cfg Config) (*classState, error) {
	c := &classState{room: cfg.Class, token: cfg.TeacherToken, calls: map[string]*ended{}, viewers: map[string]int{}}
	if c.token == "" {
		c.token = NewToken()
	}
	if c.room == nil {
		room, _, err := class.Open(class.Options{Modes: ClassModes(), Script: ClassScript()})
		if err != nil {
			return nil, err
		}
		c.room, c.owned = room, true
	}
	return c, nil
}

// ClassScript is the class's script: the one the page plays.
func ClassScript() *class.Script {
	s := class.ScriptOf(story.Default())
	return &s
}

// ClassModes are the modes the teacher's view shows before their first
// call, in order: the lesson's two ends, the walkie-talkie and the phone.
// A call in any other mode grandma takes here adds its own group when it
// comes: a view of nine empty groups would hide the two that matter.
func ClassModes() []result.Mode {
	return []result.Mode{halfduplex.Mode().Mode, fullduplex.Mode().Mode}
}

// NewToken returns a new teacher's token: 128 random bits, in hex.
func NewToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// ValidToken says whether t is a token NewToken could have made.
func ValidToken(t string) bool {
	_, err := hex.DecodeString(t)
	return err == nil && len(t) == 32
}

// TeacherToken returns the token that lets a view start a new experiment.
func (s *Server) TeacherToken() string { return s.class.token }

// Class returns the class experiment's room.
func (s *Server) Class() *class.Room { return s.class.room }

// begun notes a call that may be reported, under the id its grandchild
// gave it; an id already in use, or none, is not noted.
func (s *Server) begun(id string, n int, mode call.Mode, script story.Script) *ended {
	if !wire.ValidCallID(id) {
		return nil
	}
	c := s.class
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgetLocked(time.Now())
	if _, ok := c.calls[id]; ok {
		return nil
	}
	e := &ended{n: n, mode: mode, script: script, done: make(chan struct{})}
	c.calls[id] = e
	return e
}

// finish notes how a call noted by begun ended, and what grandma recorded.
func (s *Server) finish(e *ended, ok bool, hers *timeline.Timeline, in, out int64, connections int, perConn []result.ConnBytes) {
	if e == nil {
		return
	}
	s.class.mu.Lock()
	e.ok, e.hers, e.in, e.out, e.connections, e.perConn, e.at = ok, hers, in, out, connections, perConn, time.Now()
	s.class.mu.Unlock()
	close(e.done)
}

// forgetLocked drops the calls that ended more than ReportWait ago, and
// past MaxAwaiting the oldest that have ended.
func (c *classState) forgetLocked(now time.Time) {
	var oldest string
	var oldestAt time.Time
	for id, e := range c.calls {
		select {
		case <-e.done:
			if now.Sub(e.at) > ReportWait {
				delete(c.calls, id)
			} else if oldest == "" || e.at.Before(oldestAt) {
				oldest, oldestAt = id, e.at
			}
		default:
		}
	}
	if len(c.calls) >= MaxAwaiting && oldest != "" {
		delete(c.calls, oldest)
	}
}

// reportStatus is an error a report is answered with.
type reportStatus struct {
	code int
	why  string
}

func (e *reportStatus) Error() string { return e.why }

// report takes a grandchild's report of her call: it joins her record
// with grandma's, as the grandchild does at the end of the call, and adds
// the call to the class experiment.
func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	if err := wire.CheckVersion(r.Header.Get(wire.HeaderVersion), "grandchild"); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, wire.MaxReport))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, fmt.Sprintf("a report may be at most %d bytes", wire.MaxReport), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "could not read the report", http.StatusBadRequest)
		return
	}
	rep, err := wire.DecodeReport(body)
	if err == nil && !class.ValidName(rep.Student) {
		err = fmt.Errorf("student %q: want a name this server gave, such as %s (from /script.json)", rep.Student, class.NewName())
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c, n, err := s.joinReport(r.Context(), rep)
	if err != nil {
		st := &reportStatus{code: http.StatusBadRequest, why: err.Error()}
		errors.As(err, &st)
		s.log.Info("report refused", "peer", r.RemoteAddr, "status", st.code, "why", st.why)
		http.Error(w, st.why, st.code)
		return
	}
	s.log.Info("reported", "id", n, "mode", c.Mode, "student", c.Student, "class_call", c.ID)
	w.Header().Set("Connection", "close") // the call is over: keep no file idle for it
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(struct {
		ID      int    `json:"id"`
		Student string `json:"student"`
	}{c.ID, c.Student})
}

// joinReport finds the call a report is for, joins the two records, and
// adds the call to the experiment; it also returns the call's id in the
// server's log.
func (s *Server) joinReport(ctx context.Context, rep wire.Report) (class.Call, int, error) {
	cs := s.class
	cs.mu.Lock()
	e := cs.calls[rep.Call]
	cs.mu.Unlock()
	if e == nil {
		return class.Call{}, 0, &reportStatus{http.StatusNotFound, fmt.Sprintf("no call %s ended here in the last %v: report a call as soon as it is over", rep.Call, ReportWait)}
	}
	t := time.NewTimer(ReportLate)
	defer t.Stop()
	select {
	case <-e.done:
	case <-t.C:
		return class.Call{}, 0, &reportStatus{http.StatusNotFound, fmt.Sprintf("call %s is not over: report it once grandma has said goodbye", rep.Call)}
	case <-ctx.Done():
		return class.Call{}, 0, ctx.Err()
	}
	cs.mu.Lock()
	already := e.reported
	e.reported = e.ok
	late := time.Since(e.at) > ReportWait
	cs.mu.Unlock()
	switch {
	case late:
		return class.Call{}, 0, &reportStatus{http.StatusNotFound, fmt.Sprintf("call %s ended over %v ago: report a call as soon as it is over", rep.Call, ReportWait)}
	case already:
		return class.Call{}, 0, &reportStatus{http.StatusConflict, fmt.Sprintf("call %s is reported already", rep.Call)}
	case !e.ok:
		return class.Call{}, 0, &reportStatus{http.StatusNotFound, fmt.Sprintf("call %s did not end as its script says (it was dropped or cut): only whole calls are reported", rep.Call)}
	}
	c, err := s.joined(e, rep)
	if err == nil {
		c, err = cs.room.Add(c)
		if errors.Is(err, class.ErrFull) {
			err = &reportStatus{http.StatusInsufficientStorage, err.Error()}
		}
	}
	if err != nil {
		cs.mu.Lock()
		e.reported = false // it may be reported again, correctly
		cs.mu.Unlock()
	}
	return c, e.n, err
}

// joined joins the grandchild's record of a call with grandma's, on the
// grandchild's clock, as the grandchild's duplexdemo does.
func (s *Server) joined(e *ended, rep wire.Report) (class.Call, error) {
	kid, facts, err := wire.DecodeSideRecord(rep.Record, e.script, timeline.Client)
	if err != nil {
		return class.Call{}, err
	}
	a, err := timeline.Align(kid, e.hers)
	if err != nil {
		return class.Call{}, err
	}
	merged, err := timeline.Merge(kid, e.hers, a)
	if err != nil {
		return class.Call{}, fmt.Errorf("the grandchild's record of the call does not fit grandma's: %w", err)
	}
	res := &result.Result{
		Mode:          e.mode.Mode,
		Latency:       facts.Latency,
		Timeline:      merged,
		WireBytes:     [2]int64{timeline.Client: e.in, timeline.Server: e.out},
		Connections:   max(e.connections, facts.Connections),
		PerConnection: e.perConn,
		Alignment:     &a,
		ServerLatency: s.cfg.Latency,
	}
	if e.mode.Facts != nil {
		res.Facts = e.mode.Facts(merged)
	}
	script := class.ScriptOf(e.script)
	return class.Call{Student: rep.Student, Ended: e.at, Script: &script, Call: report.Build(res)}, nil
}

// connBytes is a connection's bytes, with the grandchild's port as grandma
// sees it.
func connBytes(c net.Conn, in, out int64) []result.ConnBytes {
	port := 0
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		port = a.Port
	}
	return []result.ConnBytes{{ClientPort: port, Bytes: [2]int64{timeline.Client: in, timeline.Server: out}}}
}

// newExperiment starts a new experiment, for the teacher only.
func (s *Server) newExperiment(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o != "" && !s.checkOrigin(r) {
		s.refuse(w, r, "class", http.StatusForbidden, "a page from "+o+" may not start a new experiment")
		return
	}
	auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || auth == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="duplexdemo teacher"`)
		s.refuse(w, r, "class", http.StatusUnauthorized, "only the teacher may start a new experiment: open the teacher's address that duplexdemo serve printed")
		return
	}
	if subtle.ConstantTimeCompare([]byte(auth), []byte(s.class.token)) != 1 {
		s.refuse(w, r, "class", http.StatusForbidden, "that is not the teacher's token: only the teacher may start a new experiment")
		return
	}
	exp, err := s.class.room.NewExperiment()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.log.Info("new experiment", "number", exp.Number)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		Experiment class.Experiment `json:"experiment"`
	}{exp})
}

// download sends the experiment's record, as JSON or CSV.
func (s *Server) download(csv bool) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		rec := s.class.room.Record()
		ext, typ := "json", "application/json"
		if csv {
			ext, typ = "csv", "text/csv; charset=utf-8"
		}
		w.Header().Set("Content-Type", typ)
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="class-experiment-%d.%s"`, rec.Experiment.Number, ext))
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if csv {
			_ = rec.WriteCSV(w)
			return
		}
		_ = rec.WriteJSON(w)
	}
}

// events streams the experiment to a teacher's view, until the view goes,
// the server stops, or the view falls too far behind (it reconnects).
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	cs := s.class
	peer, _, _ := net.SplitHostPort(r.RemoteAddr)
	cs.mu.Lock()
	full := cs.viewing >= MaxViewers || cs.viewers[peer] >= MaxViewersPerPeer
	if !full {
		cs.viewing++
		cs.viewers[peer]++
	}
	cs.mu.Unlock()
	if full {
		w.Header().Set("Retry-After", "5")
		s.refuse(w, r, "class", http.StatusServiceUnavailable, fmt.Sprintf("as many views of the class are open as grandma serves (%d, %d from one machine): close one", MaxViewers, MaxViewersPerPeer))
		return
	}
	defer func() {
		cs.mu.Lock()
		cs.viewing--
		if cs.viewers[peer]--; cs.viewers[peer] == 0 {
			delete(cs.viewers, peer)
		}
		cs.mu.Unlock()
	}()
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{}) // the request is read; the stream is long
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(s.phoneCtx, cancel)() // the server is stopping
	now, stats, updates, stop := cs.room.Watch()
	defer stop()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	send := func(event string, v any) bool {
		data, err := json.Marshal(v)
		if err != nil {
			return false
		}
		_ = rc.SetWriteDeadline(time.Now().Add(ViewerWriteWait))
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send("snapshot", class.ViewOf(now, stats, class.ViewRows)) {
		return
	}
	ping := time.NewTicker(PingViewers)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ping.C:
			_ = rc.SetWriteDeadline(time.Now().Add(ViewerWriteWait))
			if _, err := io.WriteString(w, ": ping\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case u, ok := <-updates:
			if !ok {
				return // fallen behind, or the room closed: the view reconnects
			}
			// Everything already queued goes in one event: a class that
			// calls at once is drawn in a few frames, not hundreds.
			batch := []class.Update{u}
			for more := true; more; {
				select {
				case u, ok := <-updates:
					if !ok {
						return
					}
					batch = append(batch, u)
				default:
					more = false
				}
			}
			if !s.sendBatch(send, batch) {
				return
			}
		}
	}
}

// sendBatch sends a batch of updates: a snapshot from the last new
// experiment in it, if any, else the new calls.
func (s *Server) sendBatch(send func(string, any) bool, batch []class.Update) bool {
	start := 0
	fresh := false
	for i, u := range batch {
		if u.Call == nil {
			start, fresh = i, true
		}
	}
	last := batch[len(batch)-1].Stats
	rows := []class.Row{}
	for _, u := range batch[start:] {
		if u.Call != nil {
			rows = append(rows, class.RowOf(*u.Call, true))
		}
	}
	if fresh {
		return send("snapshot", class.View{Experiment: last.Experiment, Stats: last, Calls: rows})
	}
	return send("calls", struct {
		Calls []class.Row `json:"calls"`
		Stats class.Stats `json:"stats"`
	}{rows, last})
}
