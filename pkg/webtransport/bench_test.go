package webtransport

import (
	"context"
	"fmt"
	"testing"

	"github.com/duplexdemo/duplexdemo/internal/roundtrip"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// BenchmarkRoundTrip compares one line's round trip on the WebTransport
// session's QUIC stream at latency 0 with a bare gorilla/websocket echo's,
// in one run (roundtrip.Compare): the grandchild's writer (speak) writes
// the interruption on the stream, which quic-go packs, encrypts and sends
// in a UDP datagram; grandma's reader (listen) hears it and hands her
// writer (speak) the answer, which goes back the same way; and the
// grandchild's reader (listen) hears that. Every step is recorded. Both
// UDP sockets count each datagram, as in a call (link.WrapPacket).
func BenchmarkRoundTrip(b *testing.B) { roundtrip.Compare(b, roundTripLine(b)) }

// TestRoundTripLine carries a few lines on the benchmark's line.
func TestRoundTripLine(t *testing.T) { roundtrip.Check(t, roundTripLine(t)) }

// roundTripLine plays the call with grandma as the mode serves her and the
// grandchild's own writer and reader on the session's one stream, which
// say the interruption each time the benchmark asks, on the call's stream
// (grandma takes it there too).
func roundTripLine(tb testing.TB) roundtrip.Line {
	return roundtrip.Play(tb, Mode(), 0, func(s *call.Session) roundtrip.Roles {
		answered := &answering{ready: make(chan struct{})}
		kid := &grandchild{
			script:    s.Script,
			rec:       s.Rec,
			session:   s,
			reach:     reachLocal(answered),
			readWait:  s.Silence(readWait),
			closeWait: closeWait + s.RoundTrip(),
			handshake: handshakeTimeout + 2*s.RoundTrip(),
			progress:  story.NewProgress(s.Script),
			ear:       timeline.NewEar(s.Rec, timeline.Server),
		}
		wants := make(chan wanted)
		talk := func(ctx context.Context) error {
			sess, closeAll, err := kid.dial(ctx)
			if err != nil {
				return err
			}
			defer closeAll()
			str, err := sess.OpenStream()
			if err != nil {
				return fmt.Errorf("opening a stream to grandma: %w", err)
			}
			var heard error
			listened := make(chan struct{})
			go func() {
				defer close(listened)
				heard = kid.listen(ctx, str)
			}()
			err = kid.speak(ctx, str, wants, listened)
			_ = sess.CloseWithError(codeNormal, "") // ends listen
			<-listened
			if heard != nil {
				return heard
			}
			return err
		}
		return roundtrip.Roles{
			Roles: call.Roles{Serve: roles(s, answered).Serve, Grandchild: talk},
			Say: func(over <-chan struct{}) bool {
				select {
				case wants <- kid.want(story.Cue{Label: story.LabelInterruption, Text: s.Script.Interruption}, timeline.ReasonChannelBusy):
					return true
				case <-over:
					return false
				}
			},
		}
	})
}
