package h2

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// testScript is the default script with no afterthought during a test.
func testScript(t *testing.T) story.Script {
	return calltest.Script(t, story.Options{AfterthoughtAt: time.Minute})
}

// dialH2 opens one HTTP/2 connection with prior knowledge to addr, closed
// when the test ends.
func dialH2(t *testing.T, addr string) *http.ClientConn {
	t.Helper()
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	conn, err := (&http.Transport{Protocols: protocols}).NewClientConn(context.Background(), "http", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// grandmaServer serves grandma alone on loopback as a call does, HTTP/1.1
// and HTTP/2 with prior knowledge on one port (call.Protocols); served is
// closed once the test's connection has closed and every stream's handler
// has returned. The test plays the grandchild by hand on conn.
func grandmaServer(t *testing.T, readWait time.Duration) (srv *httptest.Server, rec *timeline.Recorder, conn *http.ClientConn, served <-chan struct{}) {
	t.Helper()
	rec = timeline.NewRecorder(nil)
	g := &Grandma{script: testScript(t), rec: rec, readWait: readWait, ear: timeline.NewEar(rec, timeline.Client)}
	h := &handlers{h: g, done: make(chan struct{})}
	srv = httptest.NewUnstartedServer(h)
	srv.Config.Protocols = call.Protocols()
	srv.Config.HTTP2 = call.HTTP2()
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			h.closed()
		}
	}
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		rec.Finish()
	})
	return srv, rec, dialH2(t, srv.Listener.Addr().String()), h.done
}

// handlers runs h for each stream, and closes done once the first
// connection has closed and no handler runs.
type handlers struct {
	h       http.Handler
	mu      sync.Mutex
	running int
	over    bool // the connection has closed
	done    chan struct{}
}

func (hs *handlers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hs.mu.Lock()
	hs.running++
	hs.mu.Unlock()
	defer func() {
		hs.mu.Lock()
		defer hs.mu.Unlock()
		if hs.running--; hs.running == 0 && hs.over {
			hs.finish()
		}
	}()
	hs.h.ServeHTTP(w, r)
}

// closed is told that a connection has closed.
func (hs *handlers) closed() {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.over = true
	if hs.running == 0 {
		hs.finish()
	}
}

// finish closes done, once.
func (hs *handlers) finish() {
	select {
	case <-hs.done:
	default:
		close(hs.done)
	}
}

// sent records a grandchild's line as sent, so that grandma can hear it,
// and returns it with its newline.
func sent(rec *timeline.Recorder, label, text string) string {
	rec.Sent(rec.Want(timeline.Client, label, text, ""))
	return text + "\n"
}

// openCall opens the call's stream on conn: the test writes the
// grandchild's side to the returned writer.
func openCall(t *testing.T, conn *http.ClientConn, url string) (*io.PipeWriter, *http.Response) {
	t.Helper()
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	req, err := http.NewRequest(http.MethodPost, url+Path, pr)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := conn.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("opening the call: got %s, want 200", resp.Status)
	}
	return pw, resp
}

// hangUpReason reads the call's stream to its end, at most 10 seconds, and
// returns the reason grandma gave in its trailer.
func hangUpReason(t *testing.T, resp *http.Response) string {
	t.Helper()
	read := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, resp.Body)
		read <- err
	}()
	select {
	case err := <-read:
		if err != nil {
			t.Fatalf("reading the call's stream: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("grandma did not end the call's stream")
	}
	return resp.Trailer.Get(TrailerHangUp)
}

// TestGrandmaHangsUpOnBadLines: a line she cannot take on the call's
// stream ends it, with the reason in its trailer.
func TestGrandmaHangsUpOnBadLines(t *testing.T) {
	for _, c := range []struct {
		name string
		line func(*timeline.Recorder) string
		want string
	}{
		{"too long", func(*timeline.Recorder) string { return strings.Repeat("x", call.MaxLine+1) + "\n" }, fmt.Sprintf("at most %d bytes", call.MaxLine)},
		{"never sent", func(*timeline.Recorder) string { return "hello?\n" }, "did not expect"},
		{"not in the script", func(rec *timeline.Recorder) string { return sent(rec, "chatter", "nice weather") }, "does not know what to say"},
		{"cut off", func(*timeline.Recorder) string { return "Grandma, wh" }, "in the middle of a line"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, rec, conn, served := grandmaServer(t, readWait)
			pw, resp := openCall(t, conn, srv.URL)
			if _, err := io.WriteString(pw, sent(rec, story.LabelQuestion, story.Question)+c.line(rec)); err != nil {
				t.Fatal(err)
			}
			pw.Close() // a line cut off ends with the stream
			if got := hangUpReason(t, resp); !strings.Contains(got, c.want) {
				t.Errorf("she hung up with %q, want it to say %q", got, c.want)
			}
			conn.Close()
			waitServed(t, served)
		})
	}
}

// TestGrandmaHangsUpOnSilence: a grandchild who says nothing for
// readWait is hung up on.
func TestGrandmaHangsUpOnSilence(t *testing.T) {
	srv, _, conn, served := grandmaServer(t, 200*time.Millisecond)
	_, resp := openCall(t, conn, srv.URL)
	if got, want := hangUpReason(t, resp), "grandma heard nothing from you for 200ms"; got != want {
		t.Errorf("she hung up with %q, want %q", got, want)
	}
	conn.Close()
	waitServed(t, served)
}

// TestGrandmaClosedMidCall: a connection closed mid-story ends her side
// of the call, and every goroutine of it.
func TestGrandmaClosedMidCall(t *testing.T) {
	srv, rec, conn, served := grandmaServer(t, readWait)
	pw, resp := openCall(t, conn, srv.URL)
	if _, err := io.WriteString(pw, sent(rec, story.LabelQuestion, story.Question)); err != nil {
		t.Fatal(err)
	}
	line, err := readLine(newLineReader(resp.Body))
	if err != nil || line != story.Default().Story[0] {
		t.Fatalf("got %q, %v; want the first sentence", line, err)
	}
	conn.Close()
	waitServed(t, served)
}

// waitServed waits, at most 5 seconds, for grandma's connection to be done.
func waitServed(t *testing.T, served <-chan struct{}) {
	t.Helper()
	select {
	case <-served:
	case <-time.After(5 * time.Second):
		t.Fatal("grandma's connection was still served 5s after it closed")
	}
}

// TestGrandmaRefusesBadStreams: what grandma does not take is refused
// with a status that says why.
func TestGrandmaRefusesBadStreams(t *testing.T) {
	srv, rec, conn, _ := grandmaServer(t, readWait)
	// HTTP/1.1 is refused, on the same port: she speaks HTTP/2 with prior
	// knowledge only.
	resp, err := srv.Client().Post(srv.URL+Path, "text/plain", strings.NewReader(story.Question+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusHTTPVersionNotSupported {
		t.Errorf("HTTP/1.1: got %s, want 505", resp.Status)
	}
	send := func(method, path, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := conn.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for _, c := range []struct {
		name, method, path, body string
		want                     int
	}{
		{"GET", http.MethodGet, Path, "", http.StatusMethodNotAllowed},
		{"nowhere", http.MethodPost, "/nowhere", "", http.StatusNotFound},
		{"urgent too long", http.MethodPost, UrgentPath, strings.Repeat("x", call.MaxLine+1) + "\n", http.StatusRequestEntityTooLarge},
		{"urgent two lines", http.MethodPost, UrgentPath, story.Interruption + "\n" + story.Interruption + "\n", http.StatusBadRequest},
		{"urgent not urgent", http.MethodPost, UrgentPath, story.Question + "\n", http.StatusBadRequest},
		{"urgent cut off", http.MethodPost, UrgentPath, "Wait, was", http.StatusBadRequest},
	} {
		if got := send(c.method, c.path, c.body).StatusCode; got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, got, c.want)
		}
	}
	// An urgent line is answered on its own stream at once.
	resp = send(http.MethodPost, UrgentPath, sent(rec, story.LabelInterruption, story.Interruption))
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the interruption: got %s, want 200", resp.Status)
	}
	if a, ok := rec.Finish().Message(story.LabelAnswer); !ok || !a.Sent {
		t.Errorf("grandma did not answer the interruption")
	}
	// A grandma takes one call.
	openCall(t, conn, srv.URL)
	if got := send(http.MethodPost, Path, "").StatusCode; got != http.StatusConflict {
		t.Errorf("a second call: got %d, want 409", got)
	}
}

// kidServer serves h alone on loopback, speaking HTTP/2 with prior
// knowledge, and returns a grandchild who calls it with readWait, on rec.
func kidServer(t *testing.T, rec *timeline.Recorder, readWait time.Duration, h http.HandlerFunc) (*grandchild, *httptest.Server) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	return &grandchild{
		script:    testScript(t),
		rec:       rec,
		transport: &http.Transport{Protocols: protocols},
		addr:      srv.Listener.Addr().String(),
		dialWait:  dialTimeout,
		readWait:  readWait,
		ear:       timeline.NewEar(rec, timeline.Server),
		streams:   new(atomic.Int64),
	}, srv
}

// TestGrandchildHangsUpOnBadGrandmas: whatever goes wrong on grandma's
// side, the grandchild's call ends, soon, with an error that says what.
func TestGrandchildHangsUpOnBadGrandmas(t *testing.T) {
	first := story.Default().Story[0]
	for _, c := range []struct {
		name string
		// grandma plays her side; cut, if she closes it, cuts the
		// connection.
		grandma func(w http.ResponseWriter, r *http.Request, rec *timeline.Recorder, cut func())
		// want is a regular expression the grandchild's error matches.
		want string
	}{
		{"silent", func(w http.ResponseWriter, r *http.Request, _ *timeline.Recorder, _ func()) {
			w.WriteHeader(http.StatusOK)
			http.NewResponseController(w).Flush()
			<-r.Context().Done()
		}, "grandma said nothing for 300ms"},
		{"too long", func(w http.ResponseWriter, _ *http.Request, _ *timeline.Recorder, _ func()) {
			io.WriteString(w, strings.Repeat("x", call.MaxLine+1)+"\n")
		}, fmt.Sprintf("at most %d bytes", call.MaxLine)},
		{"hangs up", func(w http.ResponseWriter, _ *http.Request, _ *timeline.Recorder, _ func()) {
			w.Header().Set(http.TrailerPrefix+TrailerHangUp, "grandma has a visitor")
		}, "grandma hung up: grandma has a visitor"},
		{"refuses", func(w http.ResponseWriter, _ *http.Request, _ *timeline.Recorder, _ func()) {
			http.Error(w, "not now", http.StatusServiceUnavailable)
		}, "503 Service Unavailable: not now"},
		{"ends early", func(w http.ResponseWriter, _ *http.Request, rec *timeline.Recorder, _ func()) {
			rec.Sent(rec.Want(timeline.Server, story.LabelStory, first, ""))
			io.WriteString(w, first+"\n")
		}, errHungUpEarly.Error()},
		{"cut mid-call", func(w http.ResponseWriter, r *http.Request, rec *timeline.Recorder, cut func()) {
			rec.Sent(rec.Want(timeline.Server, story.LabelStory, first, ""))
			io.WriteString(w, first+"\n")
			http.NewResponseController(w).Flush()
			cut()
			<-r.Context().Done()
		}, "grandma: unexpected EOF|connection reset by peer"}, // hearing her, or still calling her; the cut may come as either
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := timeline.NewRecorder(nil)
			defer rec.Finish()
			var srv *httptest.Server
			cut := func() { go srv.CloseClientConnections() }
			kid, s := kidServer(t, rec, 300*time.Millisecond, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == Path {
					c.grandma(w, r, rec, cut)
				}
			})
			srv = s
			start := time.Now()
			err := kid.call(context.Background())
			if err == nil || !regexp.MustCompile(c.want).MatchString(err.Error()) {
				t.Errorf("got %v, want an error saying %q", err, c.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("the call took %v to end", d)
			}
		})
	}
}

// TestLineBodyEndsWithTheLastLine: the body ends with the line marked
// last, and a closed body stops a Read that waits.
func TestLineBodyEndsWithTheLastLine(t *testing.T) {
	rec := timeline.NewRecorder(nil)
	defer rec.Finish()
	lines := make(chan line, 2)
	b := &lineBody{rec: rec, lines: lines, closed: make(chan struct{})}
	for _, l := range []struct {
		text string
		last bool
	}{{"hello", false}, {"bye", true}} {
		lines <- line{utterance: utterance{rec.Want(timeline.Client, "x", l.text, ""), "x", l.text}, sent: make(chan struct{}), last: l.last}
	}
	got, err := io.ReadAll(b)
	if err != nil || string(got) != "hello\nbye\n" {
		t.Errorf("got %q, %v; want both lines, then EOF", got, err)
	}
	b = &lineBody{rec: rec, lines: make(chan line), closed: make(chan struct{})}
	go b.Close()
	if _, err := b.Read(make([]byte, 8)); !errors.Is(err, errBodyClosed) {
		t.Errorf("got %v, want %v", err, errBodyClosed)
	}
}
