// Package h1full plays the call over HTTP/1.1 in full duplex: one request
// whose body the grandchild keeps writing, a line at a time, while grandma
// writes her answer, a line at a time, on the same connection. TCP always
// carried both ways at once; HTTP/1.1 lets a request and its answer overlap
// when both ends agree to: the server handler calls
// http.ResponseController.EnableFullDuplex (Go 1.21+) and the client's
// transport reads the answer (its readLoop) while it still writes the
// request (its writeLoop).
//
// On the wire, after the TCP handshake: the request's head (POST, then
// Transfer-Encoding: chunked), and each of the grandchild's lines as one
// chunk of its body; grandma's answer head at once, then each of her lines
// as one chunk of the answer. The goodbye is the request body's last chunk
// and the farewell the answer's; the call is over when both bodies have
// ended. If grandma ends the call before her farewell, she says why in an
// answer trailer (TrailerHangUp), as gRPC says its status. From duplexdemo
// serve, her answer ends with her record of the call, a last line after her
// farewell.
//
// Every wait on the timeline is measured: a line is sent when its side's
// writer starts writing it (the grandchild's first line no sooner than the
// transport has written the request's head and reads the body), and heard
// when its side's reader has read all of it.
package h1full

import (
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

const (
	// Path is where grandma takes the call.
	Path = "/duplex"
	// TrailerHangUp is the answer trailer in which grandma says why she
	// ended the call before her farewell: the answer's head is long gone,
	// so its status cannot say it.
	TrailerHangUp = "Duplexdemo-Hang-Up"

	// writeWait bounds one of grandma's writes; a peer that stops reading
	// is dropped.
	writeWait = 5 * time.Second
	// readWait bounds the silence between two lines from the peer, beyond
	// the script's own silences and one round trip of the link.
	readWait = 10 * time.Second
	// closeWait bounds how long grandma, having said her farewell, waits
	// for the request body to end (the goodbye is its last line), plus a
	// round trip of the link.
	closeWait = time.Second
	// responseHeaderTimeout bounds how long the grandchild's transport
	// waits for grandma's answer to begin once the request is written,
	// plus a round trip of the link. Here the request is written only
	// when the call is over, and grandma's answer began long before.
	responseHeaderTimeout = 10 * time.Second
	// remoteSlack multiplies the bounds on grandma's first answer and on
	// the end of the request for a grandma elsewhere: a classroom server
	// may be busy with hundreds of calls.
	remoteSlack = 5
)

// Mode is the call as one HTTP/1.1 request streamed up while its answer
// streams down: what it is, and its two roles.
//
// ServerMayStart is true: grandma can say nothing before the request has
// begun (its head must reach her), as on the phone nothing is said before
// the WebSocket's opening request; but from then on she speaks whenever
// she likes, unasked: she answers at once with her answer's head, and her
// afterthought goes the moment she thinks of it.
func Mode() call.Mode {
	return call.Mode{
		Mode: result.Mode{
			Key:            "h1full",
			Name:           "HTTP/1.1, full duplex",
			Transport:      "HTTP/1.1, a request streamed up while its answer streams down",
			ServerMayStart: true, // once the request has begun, she speaks when she likes
			Note:           "A browser cannot make this call: fetch() streams a request body only with duplex: 'half' (and only over HTTP/2 or later), and lets the page read the answer only once the body has been sent. Most proxies also hold a request, or its answer, until it is whole.",
		},
		Photo: true, // grandma reads a line as long as the photo
		Title: func(call.Config) string {
			return "HTTP/1.1 FULL DUPLEX: one request streams up while its answer streams down"
		},
		Help: call.Help{
			Short: "HTTP/1.1 in full duplex: one request streamed up while its answer streams down",
			Long: `h1full plays the call over HTTP/1.1 on one TCP connection, as ONE request:
the grandchild keeps writing its body, a line at a time (chunked), while
grandma writes her answer, a line at a time, on the same connection. Her
server agrees to read the request while it answers (Go's
http.ResponseController.EnableFullDuplex), and Go's client reads the answer
while it still writes the request.

So HTTP/1.1 itself is not a walkie-talkie: the interruption goes up at once,
in the middle of the story, and grandma's afterthought goes down unasked.

A browser cannot do this. fetch() does not stream a request body over
HTTP/1.1 at all; Chromium streams one only over HTTP/2 (or HTTP/3), with
duplex: 'half', and hands the page the response only once the request body
has been sent. And most proxies and load balancers read a whole request
before they forward it, or hold the answer until the request has ended, so
between two machines on the internet this call rarely survives either. It
works where both ends are programs you control, as here.`,
			Example: `  duplexdemo h1full
  duplexdemo h1full --latency 150ms --pace 400ms
  duplexdemo h1full --json`,
		},
		Local:  local,
		Remote: remote,
		Facts:  requests,
	}
}

// local sets up a call in this process: grandma serving on the call's
// listener, and the grandchild calling her with one request on one
// connection.
func local(s *call.Session) call.Roles {
	g := &Grandma{
		script:    s.Script,
		rec:       s.Rec,
		readWait:  s.Silence(readWait),
		closeWait: closeWait + s.RoundTrip(),
	}
	kid := newGrandchild(s, "http://"+s.Addr()+Path)
	return call.Roles{Grandma: g, Grandchild: kid.call, Facts: kid.facts}
}

// remote sets up the grandchild's side of a call to grandma at base: the
// request carries the protocol version (a header), the script and the
// call's id (its query), and grandma's answer ends with her record of the
// call, a last line after her farewell.
func remote(s *call.Session, base string) call.RemoteRoles {
	id := wire.NewCallID()
	q := wire.ScriptQuery(s.Script)
	q.Set(wire.QueryCall, id)
	r := &elsewhere{}
	kid := newGrandchildSlack(s, base+Path+"?"+q.Encode(), remoteSlack)
	kid.remote = r
	return call.RemoteRoles{Grandchild: kid.call, Record: r.record, HandOver: newHandOverWatch, Facts: kid.facts, CallID: id}
}

// factRequests is the fact of the HTTP requests a call made.
func factRequests(n int) []result.Fact {
	return []result.Fact{{Key: "requests", Title: "HTTP requests", Value: float64(n), Compared: true}}
}

// facts counts the grandchild's HTTP requests, as her transport wrote them:
// the whole call is one.
func (c *grandchild) facts(*timeline.Timeline) []result.Fact {
	return factRequests(int(c.requests.Load()))
}

// requests counts the HTTP requests of a call from its timeline, for a call
// whose grandchild was elsewhere: one, once she has said a line (the first
// goes as soon as the request's head is written).
func requests(tl *timeline.Timeline) []result.Fact {
	for _, m := range tl.Messages {
		if m.From == timeline.Client && m.Sent {
			return factRequests(1)
		}
	}
	return factRequests(0)
}
