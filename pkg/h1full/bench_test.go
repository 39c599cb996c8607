package h1full

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/internal/roundtrip"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// BenchmarkRoundTrip compares one line's round trip through one HTTP/1.1
// request in full duplex at latency 0 with a bare gorilla/websocket
// echo's, in one run (roundtrip.Compare): the grandchild's writer (speak)
// writes the interruption into the request body, which the client's
// transport sends as one chunk; grandma's reader (listen) hears it and
// hands her writer (speak) the answer, one chunk of her answer, flushed;
// and the grandchild's reader (listen) hears that. Every step is recorded.
func BenchmarkRoundTrip(b *testing.B) { roundtrip.Compare(b, roundTripLine(b)) }

// TestRoundTripLine carries a few lines on the benchmark's line, and some
// on a second call.
func TestRoundTripLine(t *testing.T) { roundtrip.Check(t, roundTripLine(t)) }

// roundTripLine plays the call with grandma as the mode serves her and the
// grandchild's own writer and reader on one request, which say the
// interruption each time the benchmark asks. Her reader hears at most
// call.MaxAnswer bytes of grandma's answer: a call carries as many answers
// as fit.
func roundTripLine(tb testing.TB) roundtrip.Line {
	perCall := call.MaxAnswer / (len(story.Answer) + 1) // each answer and its newline
	return roundtrip.Play(tb, Mode(), perCall, func(s *call.Session) roundtrip.Roles {
		kid := newGrandchild(s, "http://"+s.Addr()+Path)
		wants := make(chan utterance)
		interruption := story.Cue{Label: story.LabelInterruption, Text: s.Script.Interruption}
		return roundtrip.Roles{
			Roles: call.Roles{Grandma: local(s).Grandma, Grandchild: func(ctx context.Context) error { return roundTripCall(ctx, kid, wants) }},
			Say: func(over <-chan struct{}) bool {
				select {
				case wants <- kid.want(interruption, timeline.ReasonChannelBusy):
					return true
				case <-over:
					return false
				}
			},
		}
	})
}

// roundTripCall is the grandchild's call without the script, until ctx
// ends: one POST whose body speak writes each line it is handed into,
// while listen hears grandma's answer, set up as call sets them up.
func roundTripCall(ctx context.Context, c *grandchild, wants <-chan utterance) error {
	defer c.client.CloseIdleConnections()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	body, lines := io.Pipe()
	opened := make(chan struct{})
	var openOnce sync.Once
	trace := &httptrace.ClientTrace{WroteHeaders: func() { openOnce.Do(func() { close(opened) }) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, c.url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	ended := make(chan struct{})
	context.AfterFunc(ctx, func() {
		body.CloseWithError(errCallOver)
		close(ended)
	})
	var wg sync.WaitGroup
	wg.Go(func() { _ = c.speak(ctx, lines, wants, opened) }) // it ends with the call
	defer func() {
		cancel(nil)
		<-ended
		wg.Wait()
	}()
	silent := time.AfterFunc(c.readWait, func() { cancel(errSilence) })
	defer silent.Stop()
	resp, err := c.client.Do(req)
	if err != nil {
		return c.broke(ctx, "calling grandma", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("grandma answered the call with %s", resp.Status)
	}
	return c.listen(ctx, resp, silent, story.NewProgress(c.script))
}
