package classroom_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/classroom"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// margin is what a bound may be overrun by on a busy machine (six programs
// spinning beside the tests): the check's period, a scheduler's delays.
const margin = 2 * time.Second

// walkiePost says one walkie line by hand, on client (a new connection for
// each line if its transport keeps none), and returns the answer's status
// and body.
func walkiePost(t *testing.T, client *http.Client, base, query, callID, line string) (int, string) {
	t.Helper()
	url := base + halfduplex.Path
	if query != "" {
		url += "?" + query
	}
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(line))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(wire.HeaderVersion, fmt.Sprint(wire.Version))
	req.Header.Set(wire.HeaderCall, callID)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// oneConnPerLine is a client that opens a new connection for each line and
// closes it after the answer, as curl does.
func oneConnPerLine(t *testing.T) *http.Client {
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// TestSilentPhoneCallers: callers that answer every ping but never say a
// line (forgotten tabs) hold their places no longer than the script
// allows and its grace: each is hung up with 1008 and a reason, and logged;
// meanwhile new callers are told to try again, and afterwards they get
// through. Pings come often, so that a pong stretching the silence would
// keep them forever.
func TestSilentPhoneCallers(t *testing.T) {
	logs := &callLog{}
	cfg := classroom.Config{MaxCalls: 5, SilenceGrace: time.Second, PingEvery: 50 * time.Millisecond, PongWait: 200 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(logs, nil))}
	base := start(t, cfg)
	s := fastScript(t)
	silence, _ := cfg.Bounds(s)
	type hungUp struct {
		after time.Duration
		err   error
	}
	hungUps := make(chan hungUp, cfg.MaxCalls)
	opened := time.Now()
	for range cfg.MaxCalls {
		conn, _, err := dial(t, base, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		go func() { // reads, so that gorilla answers every ping; says nothing
			_ = conn.SetReadDeadline(time.Now().Add(silence + 2*margin))
			for {
				if _, _, err := conn.ReadMessage(); err != nil {
					hungUps <- hungUp{time.Since(opened), err}
					return
				}
			}
		}()
	}
	_, err := call.RunRemote(context.Background(), fullduplex.Mode(), call.Config{Script: s}, base)
	if err == nil || !strings.Contains(err.Error(), "try again") {
		t.Fatalf("a call while %d silent callers hold every place: %v; want one told to try again", cfg.MaxCalls, err)
	}
	for range cfg.MaxCalls {
		h := <-hungUps
		var ce *websocket.CloseError
		if !errors.As(h.err, &ce) || ce.Code != websocket.ClosePolicyViolation || ce.Text == "" {
			t.Errorf("a silent caller's call ended with %v; want a close frame, 1008 and a reason", h.err)
		}
		if h.after < silence-100*time.Millisecond || h.after > silence+margin {
			t.Errorf("a silent caller was hung up %v after the call opened; want at %v (the script's %v, the grace's %v), give or take %v",
				h.after, silence, s.GoodbyeAt, time.Second, margin)
		}
	}
	if d := normalCall(t, base); d > margin {
		t.Errorf("a call after the silent callers were dropped took %v", d)
	}
	freed := time.Since(opened)
	t.Logf("silence bound %v: the places were free again %v after the silent callers came", silence, freed)
	for _, c := range logs.wait(t, "phone", cfg.MaxCalls+1, 5*time.Second)[:cfg.MaxCalls] {
		if !strings.HasPrefix(c.Outcome, "dropped: the grandchild said nothing for") {
			t.Errorf("a silent caller's call was logged as %q", c.Outcome)
		}
	}
}

// TestCallOutlastsItsScript: a caller who keeps talking (a line within
// every silence) is still hung up once the call outlasts its script and
// its grace, on the phone (1008) and on the walkie (her later lines find
// no such call), and the call is logged as such.
func TestCallOutlastsItsScript(t *testing.T) {
	logs := &callLog{}
	cfg := classroom.Config{SilenceGrace: time.Second, CallGrace: time.Second, Logger: slog.New(slog.NewJSONHandler(logs, nil))}
	base := start(t, cfg)
	s := fastScript(t)
	_, whole := cfg.Bounds(s)
	every := 150 * time.Millisecond // well within the silence allowed

	t.Run("phone", func(t *testing.T) {
		conn, _, err := dial(t, base, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		opened := time.Now()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // the question, over and over: she is telling it already
			defer wg.Done()
			tick := time.NewTicker(every)
			defer tick.Stop()
			for {
				if conn.WriteMessage(websocket.TextMessage, []byte(s.Question)) != nil {
					return
				}
				select {
				case <-tick.C:
				case <-stop:
					return
				}
			}
		}()
		code := closeCode(t, conn)
		took := time.Since(opened)
		close(stop)
		wg.Wait()
		if code != websocket.ClosePolicyViolation {
			t.Errorf("a call that went on: closed with %d, want %d", code, websocket.ClosePolicyViolation)
		}
		if took < whole-100*time.Millisecond || took > whole+margin {
			t.Errorf("a call that went on was hung up after %v; want at %v, give or take %v", took, whole, margin)
		}
		if c := logs.wait(t, "phone", 1, 5*time.Second)[0]; !strings.HasPrefix(c.Outcome, "dropped: the call outlasted its script") {
			t.Errorf("logged as %q", c.Outcome)
		}
	})
	t.Run("walkie", func(t *testing.T) {
		client := oneConnPerLine(t)
		id := wire.NewCallID()
		began := time.Now()
		if got, _ := walkiePost(t, client, base, wire.ScriptQuery(s).Encode(), id, s.Question); got != http.StatusOK {
			t.Fatalf("the question: %d", got)
		}
		for {
			got, body := walkiePost(t, client, base, "", id, s.Interruption)
			if got == http.StatusNotFound {
				break
			}
			if got != http.StatusOK || time.Since(began) > whole+margin {
				t.Fatalf("an interruption %v into the call: %d %s; want 200 until %v, then 404", time.Since(began), got, body, whole)
			}
			time.Sleep(every)
		}
		if took := time.Since(began); took < whole-100*time.Millisecond {
			t.Errorf("the call was over after %v; want it to last %v", took, whole)
		}
		if c := logs.wait(t, "walkie", 1, 5*time.Second)[0]; !strings.HasPrefix(c.Outcome, "dropped: the call outlasted its script") {
			t.Errorf("logged as %q", c.Outcome)
		}
	})
}

// TestWalkieOneConnectionPerLine: a walkie caller that opens a new
// connection for each line, as curl does, keeps her call between lines for
// as long as her script allows (here, a goodbye 4 s in, with nothing said
// for 2.7 s before it, all connections closed), and is dropped only after
// a silence past the script and its grace.
func TestWalkieOneConnectionPerLine(t *testing.T) {
	logs := &callLog{}
	cfg := classroom.Config{SilenceGrace: time.Second, Logger: slog.New(slog.NewJSONHandler(logs, nil))}
	base := start(t, cfg)
	client := oneConnPerLine(t)
	s := calltest.Script(t, story.Options{GoodbyeAt: 4 * time.Second})

	id := wire.NewCallID()
	began := time.Now()
	for _, line := range []string{s.Question, s.Interruption} {
		query := ""
		if line == s.Question {
			query = wire.ScriptQuery(s).Encode()
		}
		if got, body := walkiePost(t, client, base, query, id, line); got != http.StatusOK {
			t.Fatalf("%q: %d %s", line, got, body)
		}
	}
	time.Sleep(s.GoodbyeAt - time.Since(began))
	got, body := walkiePost(t, client, base, "", id, s.Goodbye)
	if got != http.StatusOK || !strings.Contains(body, s.Farewell) || !strings.Contains(body, wire.RecordPrefix) {
		t.Fatalf("the goodbye, %v in: %d %q; want her farewell and her record", time.Since(began), got, body)
	}
	if c := logs.wait(t, "walkie", 1, 5*time.Second)[0]; c.Outcome != "ok" {
		t.Errorf("logged as %q, want ok", c.Outcome)
	}

	// One who asks, then says nothing more.
	s = fastScript(t)
	silence, _ := cfg.Bounds(s)
	id = wire.NewCallID()
	if got, _ := walkiePost(t, client, base, wire.ScriptQuery(s).Encode(), id, s.Question); got != http.StatusOK {
		t.Fatalf("the question: %d", got)
	}
	answered := time.Now()
	c := logs.wait(t, "walkie", 2, silence+margin+5*time.Second)[1]
	if took := time.Since(answered); !strings.HasPrefix(c.Outcome, "dropped: the grandchild said nothing for") || took < silence-100*time.Millisecond || took > silence+margin {
		t.Errorf("a caller silent after her question: logged %q %v after her answer; want dropped for saying nothing, at %v", c.Outcome, took, silence)
	}
	if got, _ := walkiePost(t, client, base, "", id, s.Goodbye); got != http.StatusNotFound {
		t.Errorf("a goodbye after the call was dropped: %d, want 404", got)
	}
}

// TestUnknownWalkieCall: a walkie line that names no call of grandma's
// gets 404, "no such call", with a query string or without; only the
// question with a script begins one (400 if she cannot play that script).
func TestUnknownWalkieCall(t *testing.T) {
	base := start(t, classroom.Config{})
	s := fastScript(t)
	script := wire.ScriptQuery(s).Encode()
	client := http.DefaultClient
	for _, tc := range []struct {
		name, method, query, line string
		want                      int
	}{
		{"the interruption, no query", http.MethodPost, "", s.Interruption, http.StatusNotFound},
		{"the interruption, a query", http.MethodPost, "x=1", s.Interruption, http.StatusNotFound},
		{"the interruption, a script", http.MethodPost, script, s.Interruption, http.StatusNotFound},
		{"the goodbye, a script", http.MethodPost, script, s.Goodbye, http.StatusNotFound},
		{"a line not in the script, a script", http.MethodPost, script, "hello?", http.StatusNotFound},
		{"a GET, a script", http.MethodGet, script, "", http.StatusNotFound},
		{"the question, no query", http.MethodPost, "", s.Question, http.StatusNotFound},
		{"the question, a bad script", http.MethodPost, "x=1", s.Question, http.StatusBadRequest},
		{"the question, a script", http.MethodPost, script, s.Question, http.StatusOK},
	} {
		url := base + halfduplex.Path
		if tc.query != "" {
			url += "?" + tc.query
		}
		req, err := http.NewRequest(tc.method, url, strings.NewReader(tc.line))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(wire.HeaderVersion, fmt.Sprint(wire.Version))
		req.Header.Set(wire.HeaderCall, wire.NewCallID())
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, body, tc.want)
		}
		if tc.want == http.StatusNotFound && !strings.HasPrefix(string(body), "no such call") {
			t.Errorf("%s: %q; want it to say there is no such call", tc.name, body)
		}
	}
}
