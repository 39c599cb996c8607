package classroom_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/result"

	"github.com/duplexdemo/duplexdemo/internal/classroomtest"

	"go.uber.org/goleak"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/classroom"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start serves grandma until the test ends, and returns her URL.
func start(t *testing.T, cfg classroom.Config) string { return classroomtest.Serve(t, cfg) }

type remoteRun func(context.Context, call.Config, string) (*result.Result, error)

// remote returns m's remote run.
func remote(m call.Mode) remoteRun {
	return func(ctx context.Context, cfg call.Config, server string) (*result.Result, error) {
		return call.RunRemote(ctx, m, cfg, server)
	}
}

// TestRemoteCalls: a walkie and a phone call to a grandma served alone
// show both sides, in the orders the one-process calls show them, with
// grandma's clock aligned to within half a round trip.
func TestRemoteCalls(t *testing.T) {
	url := start(t, classroom.Config{})
	for _, tc := range []struct {
		mode string
		run  remoteRun
	}{{"walkie", remote(halfduplex.Mode())}, {"phone", remote(fullduplex.Mode())}} {
		t.Run(tc.mode, func(t *testing.T) {
			latency := 20 * time.Millisecond
			res, err := tc.run(context.Background(), call.Config{Script: calltest.Script(t, story.Options{Speed: 4}), Latency: latency}, url)
			if err != nil {
				t.Fatal(err)
			}
			tl := res.Timeline
			if res.Alignment == nil {
				t.Fatal("no alignment reported")
			}
			if u := res.Alignment.Uncertainty; u <= 0 || u > 2*latency+50*time.Millisecond {
				t.Errorf("alignment uncertainty %v, want above 0 and about one latency (%v)", u, latency)
			}
			for _, m := range tl.Messages {
				if !m.Sent || !m.Heard {
					t.Errorf("the %s's %s was not both sent and heard: %+v", m.From, m.Label, m)
					continue
				}
				if m.HeardAt < m.SentAt {
					t.Errorf("the %s was heard at %v, before it was sent at %v", m.Label, m.HeardAt, m.SentAt)
				}
			}
			interruption := calltest.Said(t, tl, story.LabelInterruption)
			afterthought := calltest.Said(t, tl, story.LabelAfterthought)
			lastStory := calltest.Last(tl, story.LabelStory)
			sides := map[timeline.Side]bool{}
			for _, e := range tl.Events {
				sides[e.Side] = true
			}
			if !sides[timeline.Client] || !sides[timeline.Server] {
				t.Errorf("events of one side only: %v", sides)
			}
			switch tc.mode {
			case "walkie":
				if interruption.SentAt < lastStory.HeardAt {
					t.Errorf("walkie: the interruption went at %v, before the story's end was heard at %v", interruption.SentAt, lastStory.HeardAt)
				}
				// Grandma may speak only in reply to a request: the
				// afterthought waited for one (how long depends on when her
				// clock started and her timer fired, which a busy machine
				// delays), and went out on the goodbye's answer, after she
				// heard the goodbye and before her farewell.
				goodbye := calltest.Said(t, tl, story.LabelGoodbye)
				farewell := calltest.Said(t, tl, story.LabelFarewell)
				if afterthought.Reason != halfduplex.ReasonNoRequest || afterthought.Waited() <= 0 {
					t.Errorf("walkie: the afterthought waited %v because %q; want a wait because %q", afterthought.Waited(), afterthought.Reason, halfduplex.ReasonNoRequest)
				}
				if afterthought.SentAt < goodbye.HeardAt || afterthought.SentAt > farewell.SentAt {
					t.Errorf("walkie: the afterthought went at %v; want it on the goodbye's answer, after grandma heard the goodbye at %v and by her farewell at %v",
						afterthought.SentAt, goodbye.HeardAt, farewell.SentAt)
				}
			case "phone":
				if interruption.Waited() > 20*time.Millisecond {
					t.Errorf("phone: the interruption waited %v", interruption.Waited())
				}
				if interruption.HeardAt > lastStory.SentAt {
					t.Errorf("phone: grandma heard the interruption at %v, after her last sentence at %v", interruption.HeardAt, lastStory.SentAt)
				}
			}
		})
	}
}

// TestShutdownMidCalls stops the server in the middle of a walkie call and
// a phone call: Serve returns within a second, the phone caller hears
// grandma go away (1001), and the walkie caller's answer is cut.
func TestShutdownMidCalls(t *testing.T) {
	srv := classroomtest.Start(t, classroom.Config{})
	url := srv.URL
	slow := calltest.Script(t, story.Options{Pace: time.Second})
	errs := make(chan error, 2)
	for _, run := range []remoteRun{remote(halfduplex.Mode()), remote(fullduplex.Mode())} {
		go func() {
			_, err := run(context.Background(), call.Config{Script: slow}, url)
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
	saw1001 := false
	for range 2 {
		err := <-errs
		if err == nil {
			t.Error("a call went on as if nothing happened")
			continue
		}
		if strings.Contains(err.Error(), "1001") {
			saw1001 = true
		}
	}
	if !saw1001 {
		t.Error("the phone caller did not hear grandma go away (1001)")
	}
}

// TestNotGrandma: calling something that is not duplexdemo serve, or one
// that speaks another protocol, says so.
func TestNotGrandma(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(wire.HeaderVersion, "2")
		fmt.Fprintln(w, "hello")
	}))
	defer other.Close()
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<!DOCTYPE html><p>not found</p>", http.StatusNotFound)
	}))
	defer web.Close()
	for _, run := range []remoteRun{remote(halfduplex.Mode()), remote(fullduplex.Mode())} {
		_, err := run(context.Background(), call.Config{Script: fastScript(t)}, other.URL)
		if err == nil {
			t.Fatal("a call to another duplexdemo succeeded")
		}
		if msg := err.Error(); !strings.Contains(msg, "protocol") && !strings.Contains(msg, "answered") {
			t.Errorf("calling another version: %q; want it to say what answered", msg)
		}
		_, err = run(context.Background(), call.Config{Script: fastScript(t)}, web.URL)
		if err == nil || !strings.Contains(err.Error(), "is not duplexdemo serve") || strings.Contains(err.Error(), "DOCTYPE") {
			t.Errorf("calling a web server: %v; want it to say it is not duplexdemo serve, without its page", err)
		}
	}
}

// TestServerLatency: --latency on the server delays every call's bytes on
// her side too, and the alignment's uncertainty grows with it.
func TestServerLatency(t *testing.T) {
	latency := 30 * time.Millisecond
	url := start(t, classroom.Config{Latency: latency})
	res, err := call.RunRemote(context.Background(), fullduplex.Mode(), call.Config{Script: calltest.Script(t, story.Options{Speed: 4})}, url)
	if err != nil {
		t.Fatal(err)
	}
	in := calltest.Said(t, res.Timeline, story.LabelInterruption)
	if in.HeardAfter() < latency-5*time.Millisecond {
		t.Errorf("the interruption was heard %v after it was wanted, on a link of %v", in.HeardAfter(), latency)
	}
	if u := res.Alignment.Uncertainty; u < latency-5*time.Millisecond {
		t.Errorf("alignment uncertainty %v on a link of %v each way; want about the latency", u, latency)
	}
}
