package rawtcp

import (
	"context"
	"testing"

	"github.com/duplexdemo/duplexdemo/internal/roundtrip"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// BenchmarkRoundTrip compares one line's round trip on bare TCP at latency
// 0 with a bare gorilla/websocket echo's, in one run (roundtrip.Compare):
// the grandchild's writer (speak) says the interruption, grandma's reader
// (listen) hears it and hands her writer (speak) the answer, and the
// grandchild's reader (listen) hears that; every step is recorded.
func BenchmarkRoundTrip(b *testing.B) { roundtrip.Compare(b, roundTripLine(b)) }

// TestRoundTripLine carries a few lines on the benchmark's line.
func TestRoundTripLine(t *testing.T) { roundtrip.Check(t, roundTripLine(t)) }

// roundTripLine plays the raw TCP call with grandma as the mode serves her
// and the grandchild's own writer and reader on one connection, which say
// the interruption each time the benchmark asks.
func roundTripLine(tb testing.TB) roundtrip.Line {
	return roundtrip.Play(tb, Mode(), 0, func(s *call.Session) roundtrip.Roles {
		kid := &grandchild{
			script:    s.Script,
			rec:       s.Rec,
			dial:      s.DialContext,
			addr:      s.Addr(),
			readWait:  s.Silence(readWait),
			closeWait: closeWait + s.RoundTrip(),
			progress:  story.NewProgress(s.Script),
		}
		wants := make(chan utterance)
		talk := func(ctx context.Context) error {
			conn, err := kid.dial(ctx, "tcp", kid.addr)
			if err != nil {
				return err
			}
			defer conn.Close()
			var heard error
			listened := make(chan struct{})
			go func() {
				defer close(listened)
				heard = kid.listen(conn, newLineReader(conn, call.MaxLine))
			}()
			err = kid.speak(ctx, conn, wants, listened)
			_ = conn.Close() // ends listen
			<-listened
			if heard != nil {
				return heard
			}
			return err
		}
		return roundtrip.Roles{
			Roles: call.Roles{Serve: local(s).Serve, Grandchild: talk},
			Say: func(over <-chan struct{}) bool {
				select {
				case wants <- kid.want(story.LabelInterruption, s.Script.Interruption, timeline.ReasonChannelBusy):
					return true
				case <-over:
					return false
				}
			},
		}
	})
}
