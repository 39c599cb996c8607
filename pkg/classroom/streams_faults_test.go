package classroom_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/internal/classroomtest"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/classroom"
	"github.com/duplexdemo/duplexdemo/pkg/h1full"
	"github.com/duplexdemo/duplexdemo/pkg/h2"
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// streamPeer places a call over HTTP streams by hand: a POST to path whose
// body the test writes, over HTTP/1.1 (h1full) or HTTP/2 with prior
// knowledge (h2).
type streamPeer struct {
	mode    call.Mode
	path    string
	trailer string // where grandma says why she hung up
	h2      bool
}

var streamPeers = []streamPeer{
	{h1full.Mode(), h1full.Path, h1full.TrailerHangUp, false},
	{h2.Mode(), h2.Path, h2.TrailerHangUp, true},
}

// transport returns a transport of the peer's protocol, or of the other
// one; its connections are closed when the test ends.
func (p streamPeer) transport(t *testing.T, h2c bool) *http.Transport {
	tr := &http.Transport{}
	if h2c {
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// open opens a call with query on tr: the test writes the grandchild's
// side to the returned writer. It returns grandma's answer, whatever its
// status.
func (p streamPeer) open(t *testing.T, tr *http.Transport, base, method, query string) (*io.PipeWriter, *http.Response) {
	t.Helper()
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	req, err := http.NewRequest(method, base+p.path+"?"+query, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(wire.HeaderVersion, "1")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return pw, resp
}

// hangUp reads grandma's answer to its end, at most 10 seconds, and
// returns why she hung up (her trailer).
func (p streamPeer) hangUp(t *testing.T, resp *http.Response) string {
	t.Helper()
	read := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, resp.Body)
		read <- err
	}()
	select {
	case err := <-read:
		if err != nil {
			t.Fatalf("reading grandma's answer: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("grandma did not end her answer")
	}
	return resp.Trailer.Get(p.trailer)
}

// TestStreamRefusals: what grandma does not take over HTTP streams is
// refused at once, with a status that says why, and no call is logged.
func TestStreamRefusals(t *testing.T) {
	logs := &callLog{}
	base := start(t, classroom.Config{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	script := wire.ScriptQuery(fastScript(t)).Encode()
	for _, p := range streamPeers {
		t.Run(p.mode.Key, func(t *testing.T) {
			for _, c := range []struct {
				name, method, query string
				other               bool // over the other protocol
				want                int
				says                string
			}{
				{"no script", http.MethodPost, "", false, http.StatusBadRequest, "protocol"},
				{"bad script", http.MethodPost, "protocol=1&sentences=many&pace=1s", false, http.StatusBadRequest, "sentences"},
				{"GET", http.MethodGet, script, false, http.StatusMethodNotAllowed, "POST"},
				{"other protocol", http.MethodPost, script, true, http.StatusHTTPVersionNotSupported, "HTTP/"},
			} {
				tr := p.transport(t, p.h2 != c.other)
				_, resp := p.open(t, tr, base, c.method, c.query)
				msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1000))
				if resp.StatusCode != c.want || !strings.Contains(string(msg), c.says) {
					t.Errorf("%s: got %s %q, want %d saying %q", c.name, resp.Status, msg, c.want, c.says)
				}
				if resp.Header.Get(wire.HeaderVersion) == "" {
					t.Errorf("%s: the refusal does not say it is grandma's", c.name)
				}
			}
			if calls := logs.calls(t, p.mode.Key); len(calls) != 0 {
				t.Errorf("refusals logged as %d calls", len(calls))
			}
		})
	}
}

// TestStreamBadPeers: a grandchild who goes silent, says a line too long
// or says too many is hung up on, her answer's trailer saying why; one who
// cuts the connection mid-call is dropped. Grandma logs each call dropped.
func TestStreamBadPeers(t *testing.T) {
	logs := &callLog{}
	base := start(t, classroom.Config{SilenceGrace: 300 * time.Millisecond, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	s := fastScript(t)
	query := wire.ScriptQuery(s).Encode()
	for _, p := range streamPeers {
		t.Run(p.mode.Key, func(t *testing.T) {
			question := s.Question + "\n"
			for _, c := range []struct {
				name  string
				lines string
				want  string
			}{
				{"silent", question, "grandma heard nothing from you for"},
				{"too long", question + strings.Repeat("x", call.MaxLine+1) + "\n", "a line may be at most 4096 bytes"},
				{"too many", strings.Repeat(question, classroom.MaxLines+1), "a call says at most 16 lines"},
			} {
				pw, resp := p.open(t, p.transport(t, p.h2), base, http.MethodPost, query)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%s: got %s, want 200", c.name, resp.Status)
				}
				go io.WriteString(pw, c.lines) // grandma may hang up before she has read it all
				if got := p.hangUp(t, resp); !strings.Contains(got, c.want) {
					t.Errorf("%s: she hung up with %q, want it to say %q", c.name, got, c.want)
				}
			}
			// A connection cut mid-call.
			tr := p.transport(t, p.h2)
			pw, resp := p.open(t, tr, base, http.MethodPost, query)
			io.WriteString(pw, question)
			if line, err := readOneLine(resp.Body); err != nil || line != s.Story[0] {
				t.Fatalf("got %q, %v; want the first sentence", line, err)
			}
			tr.CloseIdleConnections()
			resp.Body.Close()
			pw.CloseWithError(io.ErrUnexpectedEOF)
			calls := logs.wait(t, p.mode.Key, 4, 10*time.Second)
			for i, c := range calls {
				if !strings.HasPrefix(c.Outcome, "dropped: ") {
					t.Errorf("call %d logged %q, want dropped", i, c.Outcome)
				}
			}
		})
	}
}

// readOneLine reads one line from r, byte by byte.
func readOneLine(r io.Reader) (string, error) {
	var b strings.Builder
	one := make([]byte, 1)
	for {
		if _, err := io.ReadFull(r, one); err != nil {
			return b.String(), err
		}
		if one[0] == '\n' {
			return b.String(), nil
		}
		b.WriteByte(one[0])
	}
}

// TestStreamsShutdownMidCall stops the server in the middle of a call over
// HTTP/1.1 in full duplex and one over HTTP/2: Serve returns within a
// second, and each grandchild hears why grandma hung up.
func TestStreamsShutdownMidCall(t *testing.T) {
	srv := classroomtest.Start(t, classroom.Config{})
	slow := calltest.Script(t, story.Options{Pace: time.Second})
	errs := make(chan error, len(streamPeers))
	for _, p := range streamPeers {
		go func() {
			_, err := call.RunRemote(context.Background(), p.mode, call.Config{Script: slow}, srv.URL)
			errs <- err
		}()
	}
	time.Sleep(500 * time.Millisecond) // both are mid-story
	took, err := srv.Stop(3 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if took > time.Second {
		t.Errorf("Serve took %v to return; want under a second", took)
	}
	for range streamPeers {
		if err := <-errs; err == nil || !strings.Contains(err.Error(), "grandma had to go") {
			t.Errorf("got %v, want grandma to say she had to go", err)
		}
	}
}

// TestH2Streams: an urgent line goes on the connection of its call, while
// the call's stream is open, and a connection carries one call at a time.
func TestH2Streams(t *testing.T) {
	base := start(t, classroom.Config{})
	p := streamPeers[1]
	tr := p.transport(t, true)
	post := func(path, query, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, base+path+"?"+query, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(wire.HeaderVersion, "1")
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	s := fastScript(t)
	if got := post(h2.UrgentPath, "", s.Interruption+"\n").StatusCode; got != http.StatusNotFound {
		t.Errorf("an urgent line with no call: got %d, want 404", got)
	}
	pw, resp := p.open(t, tr, base, http.MethodPost, wire.ScriptQuery(calltest.Script(t, story.Options{})).Encode())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the call: got %s", resp.Status)
	}
	if got := post(h2.Path, wire.ScriptQuery(s).Encode(), "").StatusCode; got != http.StatusConflict {
		t.Errorf("a second call on the connection: got %d, want 409", got)
	}
	io.WriteString(pw, s.Question+"\n")
	if got := post(h2.UrgentPath, "", s.Interruption+"\n").StatusCode; got != http.StatusOK {
		t.Errorf("the interruption on the call's connection: got %d, want 200", got)
	}
	pw.Close()
	if got := p.hangUp(t, resp); got == "" {
		t.Error("a call's stream ended without a goodbye, and grandma said nothing")
	}
}

// TestWalkieRefusesHTTP2: grandma's port speaks HTTP/2 for its own mode,
// but the walkie-talkie is HTTP/1.1, its bytes counted a request at a time
// on a connection: a walkie question over HTTP/2 is refused with 505.
func TestWalkieRefusesHTTP2(t *testing.T) {
	base := start(t, classroom.Config{})
	tr := streamPeer{}.transport(t, true)
	req, err := http.NewRequest(http.MethodPost, base+halfduplex.Path+"?"+wire.ScriptQuery(fastScript(t)).Encode(), strings.NewReader("Grandma?"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(wire.HeaderVersion, strconv.Itoa(wire.Version))
	req.Header.Set(wire.HeaderCall, wire.NewCallID())
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1000))
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusHTTPVersionNotSupported || !strings.Contains(string(msg), "HTTP/1.1") {
		t.Errorf("a walkie question over HTTP/%d: %s %q; want 505 over HTTP/2, saying HTTP/1.1", resp.ProtoMajor, resp.Status, msg)
	}
}
