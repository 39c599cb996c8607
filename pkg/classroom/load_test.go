package classroom_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/result"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/classroom"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// loadCalls is how many calls of each mode TestLoad places at once.
const loadCalls = 500

// TestLoad places 500 phone calls at once against one server, then 500
// walkie calls: every one completes, with a complete, merged record of
// both sides.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("the load test places 1,000 calls")
	}
	base := start(t, classroom.Config{MaxCalls: 2 * loadCalls})
	for _, tc := range []struct {
		mode string
		run  remoteRun
	}{{"phone", remote(fullduplex.Mode())}, {"walkie", remote(halfduplex.Mode())}} {
		t.Run(tc.mode, func(t *testing.T) {
			var wg sync.WaitGroup
			errs := make(chan error, loadCalls)
			results := make(chan *result.Result, loadCalls)
			begin := time.Now()
			for range loadCalls {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res, err := tc.run(context.Background(), call.Config{Script: fastScript(t)}, base)
					if err != nil {
						errs <- err
						return
					}
					results <- res
				}()
			}
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
				t.Fatalf("%d of %d calls failed", failed, loadCalls)
			}
			for res := range results {
				if err := complete(res.Timeline); err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("%d %s calls at once: all done in %v", loadCalls, tc.mode, time.Since(begin).Round(time.Millisecond))
		})
	}
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
