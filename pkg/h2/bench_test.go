package h2

import (
	"context"
	"fmt"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/duplexdemo/duplexdemo/internal/roundtrip"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// BenchmarkRoundTrip compares one line's round trip over HTTP/2 at latency
// 0 with a bare gorilla/websocket echo's, in one run (roundtrip.Compare),
// on each of the call's two kinds of stream:
//
//   - call: on the call's stream, open both ways. The grandchild's
//     interruption goes into its request body, which the HTTP/2 client
//     reads and sends in a DATA frame; grandma's reader on the stream
//     hears it and hands her writer the answer, a DATA frame of her
//     response, flushed; the grandchild's reader on the stream hears that.
//   - urgent: on a stream of its own, as the mode sends the interruption:
//     the grandchild opens a stream for it (HEADERS, then the line and
//     END_STREAM), grandma's handler for urgent lines hears it and answers
//     on that stream, and the grandchild's reader of that stream hears the
//     answer. A new stream each trip, on the one connection.
//
// Every step is recorded, and each side's ear puts the lines it hears in
// the order they crossed.
func BenchmarkRoundTrip(b *testing.B) {
	for _, urgent := range []bool{false, true} {
		b.Run(streamName(urgent), func(b *testing.B) { roundtrip.Compare(b, roundTripLine(b, urgent)) })
	}
}

// TestRoundTripLine carries a few lines on each of the benchmark's lines,
// and some on a second call.
func TestRoundTripLine(t *testing.T) {
	for _, urgent := range []bool{false, true} {
		t.Run(streamName(urgent), func(t *testing.T) { roundtrip.Check(t, roundTripLine(t, urgent)) })
	}
}

func streamName(urgent bool) string {
	if urgent {
		return "urgent"
	}
	return "call"
}

// roundTripLine plays the call with grandma as the mode serves her, and
// the grandchild's own streams on one HTTP/2 connection: the call's stream
// (talk), which carries the interruption when urgent is false, or, when
// it is true, a stream of its own for each (the speaker's sayUrgent). The
// call's stream is then not opened: idle, it would cost an urgent line
// nothing, and after readWait of silence on it either side would hang up.
//
// The grandchild's reader of the call's stream hears at most
// call.MaxAnswer bytes on it: a call carries as many answers as fit.
func roundTripLine(tb testing.TB, urgent bool) roundtrip.Line {
	perCall := call.MaxAnswer / (len(story.Answer) + 1) // each answer and its newline
	if urgent {
		perCall = 0 // a stream for each
	}
	return roundtrip.Play(tb, Mode(), perCall, func(s *call.Session) roundtrip.Roles {
		kid := newGrandchild(s, hostPort(s.Addr()), 1)
		interruption := story.Cue{Label: story.LabelInterruption, Text: s.Script.Interruption}
		lines := make(chan line)
		talk := func(ctx context.Context) error {
			dialCtx, cancel := context.WithTimeout(ctx, kid.dialWait)
			conn, err := kid.transport.NewClientConn(dialCtx, "http", kid.addr)
			cancel()
			if err != nil {
				return fmt.Errorf("calling grandma: %w", err)
			}
			defer conn.Close()
			progress := story.NewProgress(s.Script)
			g, ctx := errgroup.WithContext(ctx)
			if !urgent {
				g.Go(func() error { return kid.talk(ctx, conn, lines, progress) })
				return g.Wait()
			}
			sp := &speaker{c: kid, conn: conn, g: g, progress: progress}
			g.Go(func() error {
				for {
					select {
					case l := <-lines:
						sp.say(ctx, l) // urgent: on a stream of its own
					case <-ctx.Done():
						return ctx.Err()
					}
				}
			})
			return g.Wait()
		}
		return roundtrip.Roles{
			Roles: call.Roles{Grandma: local(s).Grandma, Grandchild: talk},
			Say: func(over <-chan struct{}) bool {
				select {
				case lines <- kid.want(interruption, timeline.ReasonChannelBusy):
					return true
				case <-over:
					return false
				}
			},
		}
	})
}
