// Package h2 plays the call over HTTP/2 in cleartext (h2c, with prior
// knowledge) on one TCP connection: the call is one stream that carries
// lines both ways at once, a POST whose request body the grandchild keeps
// writing while grandma keeps writing her answer, and each line that is
// urgent goes on a stream of its own beside it, answered on that stream.
//
// HTTP/2 cuts one connection into independent streams of frames: a stream
// is a request and its response, each sent whenever its side likes, and
// the streams of a connection interleave, so nothing waits for a stream to
// end. Only the standard library is used (net/http's Protocols, Go 1.24+,
// and Transport.NewClientConn, Go 1.26): grandma's server speaks HTTP/2
// with prior knowledge beside HTTP/1.1 on one port (call.Protocols), in one
// process as in duplexdemo serve, where the call's stream ends with her
// record of the call, a last line after her farewell.
//
// Every wait on the timeline is measured: a grandchild's line is sent when
// the HTTP/2 client takes it from her request body to write it on the
// connection, grandma's when she starts writing it on her response, and
// each side hears a line when its last byte (the newline) has been read.
package h2

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

const (
	// Prefix is where grandma takes HTTP/2 calls: the paths of both
	// streams begin with it.
	Prefix = "/h2/"
	// Path is where the grandchild opens the call's stream.
	Path = Prefix + "call"
	// UrgentPath is where she opens a stream for one urgent line, on the
	// call's connection.
	UrgentPath = Prefix + "urgent"
	// TrailerHangUp is the trailer in which grandma says why she ended the
	// call's stream before her farewell (a line too long, a grandchild gone
	// silent): HTTP/2 resets a stream without a word, a trailer has one.
	TrailerHangUp = "Hang-Up"

	// writeWait bounds one write; a peer that stops reading is dropped.
	writeWait = 5 * time.Second
	// readWait bounds the silence between two lines from the peer, beyond
	// the script's own silences and one round trip of the link.
	readWait = 10 * time.Second
	// dialTimeout bounds opening the connection, plus the round trip of
	// its TCP handshake.
	dialTimeout = 5 * time.Second
	// responseHeaderTimeout bounds how long the grandchild waits for
	// grandma to answer a stream, plus one round trip of the link.
	responseHeaderTimeout = 10 * time.Second
	// remoteSlack multiplies the bounds on opening the connection and on
	// grandma's first answer for a grandma elsewhere: a classroom server
	// may be busy with hundreds of calls.
	remoteSlack = 5
)

// Mode is the call over HTTP/2: what it is, and its two roles.
func Mode() call.Mode {
	return call.Mode{
		Mode: result.Mode{
			Key:            "h2",
			Name:           "HTTP/2",
			Transport:      "HTTP/2 cleartext (h2c), one TCP connection, streams both ways",
			ServerMayStart: true, // within the open stream, she speaks when she likes
			Note:           "A browser speaks HTTP/2 only over TLS, and a page cannot use one stream both ways: fetch() streams a request body only with duplex: 'half'.",
		},
		Photo: true, // grandma reads a line as long as the photo
		Title: func(call.Config) string { return "HTTP/2: one connection, streams both ways" },
		Help: call.Help{
			Short: "HTTP/2: one connection, a stream that carries the call both ways",
			Long: `h2 plays the call over HTTP/2 in cleartext (h2c, with prior knowledge), on
one TCP connection. The call is one stream: a POST whose request body the
grandchild keeps writing, line by line, while grandma keeps writing her
answer, so both talk whenever they like, as on the phone.

The interruption is urgent: it goes on a stream of its own, a second request
on the same connection, and grandma answers it on that stream at once, in the
middle of her story. Her afterthought simply goes down the call's stream when
she thinks of it.

Browsers speak HTTP/2, but only over TLS, and a page cannot use a stream both
ways: fetch() streams a request body only with duplex: 'half', its answer
readable once the body is done. What this shows is the protocol's, not the
browser's.`,
			Example: `  duplexdemo h2
  duplexdemo h2 --latency 150ms --pace 400ms
  duplexdemo h2 --json`,
		},
		Local:  local,
		Remote: remote,
		Facts:  streams,
	}
}

// local sets up a call in this process: grandma behind call's server, which
// speaks HTTP/2 with prior knowledge (call.Protocols), and the grandchild on
// one HTTP/2 connection that she opens herself.
func local(s *call.Session) call.Roles {
	g := &Grandma{
		script:   s.Script,
		rec:      s.Rec,
		readWait: s.Silence(readWait),
		ear:      timeline.NewEar(s.Rec, timeline.Client),
	}
	kid := newGrandchild(s, hostPort(s.Addr()), 1)
	return call.Roles{Grandma: g, Grandchild: kid.call, Facts: kid.facts}
}

// newGrandchild returns the grandchild, calling grandma at addr (host:port)
// through the call's emulated link; slack multiplies her bounds on opening
// the connection and on grandma's first answer.
func newGrandchild(s *call.Session, addr string, slack time.Duration) *grandchild {
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true) // prior knowledge: HTTP/2 from the first byte, no HTTP/1.1 to fall back on
	wrote := newWrote()
	return &grandchild{
		script: s.Script,
		rec:    s.Rec,
		transport: &http.Transport{
			Protocols: protocols,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				conn, err := s.DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return countedConn{conn, wrote}, nil
			},
			ResponseHeaderTimeout: slack * (responseHeaderTimeout + s.RoundTrip()),
			// No pings (SendPingTimeout): they would add bytes the call did
			// not need; a silent grandma is caught by readWait instead.
			HTTP2: &http.HTTP2Config{WriteByteTimeout: writeWait + s.RoundTrip()},
		},
		addr:     addr,
		dialWait: slack * (dialTimeout + s.RoundTrip()),
		readWait: s.Silence(readWait),
		ear:      timeline.NewEar(s.Rec, timeline.Server),
		streams:  new(atomic.Int64),
		wrote:    wrote,
	}
}

// remote sets up the grandchild's side of a call to grandma at base: the
// call's stream carries the protocol version (a header), the script and the
// call's id (its query), and ends with grandma's record of the call, a last
// line after her farewell.
func remote(s *call.Session, base string) call.RemoteRoles {
	id := wire.NewCallID()
	q := wire.ScriptQuery(s.Script)
	q.Set(wire.QueryCall, id)
	kid := newGrandchild(s, hostPort(strings.TrimPrefix(base, "http://")), remoteSlack)
	kid.remote = &elsewhere{query: q.Encode()}
	return call.RemoteRoles{
		Grandchild: kid.call,
		Record:     kid.remote.record,
		HandOver:   newHandOverWatch,
		Facts:      kid.facts,
		CallID:     id,
	}
}

// hostPort returns addr with a port: an in-memory listener's address
// (internal/pipenet) has none, nor a server's URL on the default port, and
// HTTP's default stands in for it.
func hostPort(addr string) string {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return net.JoinHostPort(addr, "80")
	}
	return addr
}

// factStreams is the fact of the HTTP/2 streams a call opened.
func factStreams(n int) []result.Fact {
	return []result.Fact{{Key: "streams", Title: "HTTP/2 streams", Value: float64(n), Compared: true}}
}

// facts counts the HTTP/2 streams the call opened: each request the
// grandchild made whose headers went on the connection is one.
func (c *grandchild) facts(*timeline.Timeline) []result.Fact {
	return factStreams(int(c.streams.Load()))
}

// streams counts the HTTP/2 streams of a call from its timeline, for a call
// whose grandchild was elsewhere: the call's, once she has said a line on
// it, and one for each urgent line she said.
func streams(tl *timeline.Timeline) []result.Fact {
	var onCall bool
	n := 0
	for _, m := range tl.Messages {
		switch {
		case m.From != timeline.Client || !m.Sent:
		case (story.Script{}).Urgent(m.Label):
			n++
		default:
			onCall = true
		}
	}
	if onCall {
		n++
	}
	return factStreams(n)
}
