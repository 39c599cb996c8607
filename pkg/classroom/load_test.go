package classroom_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/classroom"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// loadEnv names the environment variable that turns on the full load test:
// with DUPLEXDEMO_LOAD=1, TestLoad places fullLoadCalls calls of each mode
// at once instead of loadCalls, even with -short. It is for CI, on a
// machine of its own: on a busy laptop running every package's tests at
// once, the full load can outrun the callers' own timeouts (grandma's
// goodbye within 5s, a response's headers within 10s, a write within 5s),
// which is the machine's limit, not grandma's.
const loadEnv = "DUPLEXDEMO_LOAD"

const (
	// loadCalls is how many calls of each mode TestLoad places at once by
	// default: enough that grandma is on many calls at once, few enough
	// that a busy 2-core machine running every package's tests under -race
	// finishes each well within the callers' timeouts.
	loadCalls = 50
	// fullLoadCalls is how many with DUPLEXDEMO_LOAD=1.
	fullLoadCalls = 500
)

// TestLoad places many phone calls at once against one server, then as many
// walkie calls (50 of each; 500 with DUPLEXDEMO_LOAD=1): every one
// completes, with a complete, merged record of both sides that is its own
// call's (each call asks for a story of its own length, and its record must
// hold exactly that story), grandma logs every one of them as ended well,
// and she was on several of them at once.
func TestLoad(t *testing.T) {
	n := loadCalls
	if os.Getenv(loadEnv) == "1" {
		n = fullLoadCalls
	} else if testing.Short() {
		t.Skip("the load test places 100 calls")
	}
	logs := &callLog{}
	base := start(t, classroom.Config{MaxCalls: 2 * n, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	for _, tc := range []struct {
		mode string
		run  remoteRun
	}{{"phone", remote(fullduplex.Mode())}, {"walkie", remote(halfduplex.Mode())}} {
		t.Run(tc.mode, func(t *testing.T) {
			var wg sync.WaitGroup
			errs := make(chan error, n)
			results := make(chan loadResult, n)
			// Every call is placed at once: each waits for go.
			ready := make(chan struct{})
			begin := time.Now()
			for i := range n {
				sentences := 2 + i%(story.MaxSentences-1) // 2 to MaxSentences
				script := calltest.Script(t, story.Options{Sentences: sentences, Speed: story.MaxSpeed})
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-ready
					res, err := tc.run(context.Background(), call.Config{Script: script}, base)
					if err != nil {
						errs <- fmt.Errorf("call %d: %w", i, err)
						return
					}
					results <- loadResult{i, sentences, res}
				}()
			}
			close(ready)
			wg.Wait()
			close(errs)
			close(results)
			failed := 0
			for err := range errs {
				if failed++; failed <= 5 {
					t.Error(err)
				}
			}
			if failed > 0 {
				t.Fatalf("%d of %d calls failed", failed, n)
			}
			for r := range results {
				if err := complete(r.res.Timeline); err != nil {
					t.Fatalf("call %d: %v", r.i, err)
				}
				if got := storySentences(r.res.Timeline); got != r.sentences {
					t.Fatalf("call %d asked for a story of %d sentences; its merged record holds %d: another call's record?", r.i, r.sentences, got)
				}
			}
			// Grandma logs each call once it has ended on her side, which
			// may be just after the caller has hung up.
			calls := logs.wait(t, tc.mode, n, 10*time.Second)
			for _, c := range calls {
				if c.Outcome != "ok" {
					t.Errorf("grandma logged a %s call that ended %q; want every one ok", tc.mode, c.Outcome)
				}
			}
			most := mostAtOnce(calls)
			if most < 2 {
				t.Errorf("grandma was never on two %s calls at once; the load placed them one after another", tc.mode)
			}
			t.Logf("%d %s calls at once: all done in %v; grandma was on up to %d at once", n, tc.mode, time.Since(begin).Round(time.Millisecond), most)
		})
	}
}

// loadResult is one call of TestLoad, and the story it asked for.
type loadResult struct {
	i, sentences int
	res          *result.Result
}

// storySentences counts the story's sentences grandma said in a record.
func storySentences(tl *timeline.Timeline) int {
	n := 0
	for _, m := range tl.Messages {
		if m.From == timeline.Server && m.Label == story.LabelStory {
			n++
		}
	}
	return n
}

// callLog collects grandma's log lines, one JSON object each.
type callLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *callLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// loggedCall is grandma's log line of one call.
type loggedCall struct {
	Time       time.Time `json:"time"`
	Msg        string    `json:"msg"`
	Mode       string    `json:"mode"`
	DurationMS int64     `json:"duration_ms"`
	Outcome    string    `json:"outcome"`
	Peer       string    `json:"peer"`
	BytesIn    int64     `json:"bytes_in"`
	BytesOut   int64     `json:"bytes_out"`
	Level      string    `json:"level"`
}

// String is the log's text, for a test's messages.
func (l *callLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// calls returns the calls of mode grandma has logged so far.
func (l *callLog) calls(t *testing.T, mode string) []loggedCall {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []loggedCall
	for line := range bytes.Lines(l.buf.Bytes()) {
		var c loggedCall
		if err := json.Unmarshal(line, &c); err != nil {
			t.Fatalf("grandma's log: %v: %s", err, line)
		}
		if c.Msg == "call" && c.Mode == mode {
			out = append(out, c)
		}
	}
	return out
}

// wait returns grandma's log of the n calls of mode, once she has logged
// them all, failing the test if she has not within d.
func (l *callLog) wait(t *testing.T, mode string, n int, d time.Duration) []loggedCall {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		calls := l.calls(t, mode)
		if len(calls) > n {
			t.Fatalf("grandma logged %d %s calls; %d were placed", len(calls), mode, n)
		}
		if len(calls) == n {
			return calls
		}
		if time.Now().After(deadline) {
			t.Fatalf("grandma logged %d of the %d %s calls within %v", len(calls), n, mode, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mostAtOnce returns the most calls grandma was on at once, by her log:
// each call from its end (the line's time) back by its duration.
func mostAtOnce(calls []loggedCall) int {
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, c := range calls {
		end := c.Time
		edges = append(edges, edge{end.Add(-time.Duration(c.DurationMS) * time.Millisecond), +1}, edge{end, -1})
	}
	// At the same instant an end comes before a start: touching is not
	// overlapping.
	sort.Slice(edges, func(i, j int) bool {
		if !edges[i].at.Equal(edges[j].at) {
			return edges[i].at.Before(edges[j].at)
		}
		return edges[i].delta < edges[j].delta
	})
	most, now := 0, 0
	for _, e := range edges {
		now += e.delta
		most = max(most, now)
	}
	return most
}

// complete says what is missing from a call's merged record, if anything:
// every line sent and heard, and events of both sides.
func complete(tl *timeline.Timeline) error {
	sides := map[timeline.Side]bool{}
	for _, e := range tl.Events {
		sides[e.Side] = true
	}
	if !sides[timeline.Client] || !sides[timeline.Server] {
		return errorf("the record has events of one side only")
	}
	said := map[string]bool{}
	for _, m := range tl.Messages {
		if !m.Sent || !m.Heard {
			return errorf("the %s's %s was not both sent and heard", m.From, m.Label)
		}
		said[m.Label] = true
	}
	// The afterthought may not come before the goodbye on a machine this
	// loaded; every other line must be there.
	for _, label := range []string{story.LabelQuestion, story.LabelStory, story.LabelInterruption, story.LabelAnswer, story.LabelGoodbye, story.LabelFarewell} {
		if !said[label] {
			return errorf("the record has no %s", label)
		}
	}
	return nil
}
