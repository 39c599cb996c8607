// Package halfduplex plays the call as a walkie-talkie: HTTP/1.1 requests
// and responses over one TCP connection. Only one side holds the channel at
// a time: while grandma answers, the grandchild's next request waits inside
// the HTTP transport for the connection, and grandma can say nothing until
// she is asked.
//
// Every wait on the timeline is measured: a request's wait ends when the
// transport hands it the connection (httptrace's GotConn), grandma's lines
// are sent when she writes and flushes them, and each side hears a line
// when its last byte has been read.
package halfduplex

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

const (
	// Path is where grandma listens for lines.
	Path = "/say"

	// ReasonNoRequest is why grandma waits: HTTP lets a server speak only in
	// reply to a request.
	ReasonNoRequest = "no request to answer"

	// responseHeaderTimeout bounds how long the grandchild waits for an
	// answer to start once its request is written, plus one round trip of
	// the emulated link.
	responseHeaderTimeout = 10 * time.Second
)

// Mode is the walkie-talkie: what it is, and its two roles.
func Mode() call.Mode {
	return call.Mode{
		Mode: result.Mode{
			Key:            "walkie",
			Name:           "the walkie-talkie",
			Transport:      "HTTP/1.1 request/response, one TCP connection",
			ServerMayStart: false, // the server may speak only in reply
		},
		Title: func(call.Config) string { return "WALKIE-TALKIE: HTTP/1.1, one side talks at a time" },
		Help: call.Help{
			Short: "The walkie-talkie: HTTP/1.1 request/response, one side talks at a time",
			Long: `walkie plays the call over HTTP/1.1, on one TCP connection, like a
walkie-talkie: whoever holds the channel talks, the other can only listen.

Grandma's story is the streamed answer to the question, so while she tells it
the grandchild's interruption, a second request, waits inside the HTTP client
for the one connection. And when grandma remembers something after the story,
she cannot say it: an HTTP server speaks only in reply to a request, so it
waits for the grandchild's goodbye and rides on that answer.`,
			Example: `  duplexdemo walkie
  duplexdemo walkie --latency 150ms --pace 400ms
  duplexdemo walkie --speed 4 --ascii
  duplexdemo walkie --json
  duplexdemo walkie --html walkie.html --trace-out walkie.json
  duplexdemo walkie --mermaid - > walkie.md`,
		},
		Photo:  true, // grandma reads a request's body as long as the photo
		Local:  local,
		Remote: remote,
		Facts:  requests,
	}
}

// local sets up a call in this process: grandma serving on the call's
// listener, and the grandchild calling her on one connection.
func local(s *call.Session) call.Roles {
	g := newGrandma(s.Script, s.Rec)
	kid := newGrandchild(s, "http://"+s.Addr()+Path, nil)
	return call.Roles{Grandma: g, Think: g.Remember, Grandchild: kid.call, Facts: requests}
}

// remote sets up the grandchild's side of a call to grandma at base: each
// request carries the protocol version and the call's id, the question the
// script, and her last answer ends with her record of the call.
func remote(s *call.Session, base string) call.RemoteRoles {
	r := &elsewhere{callID: wire.NewCallID(), script: wire.ScriptQuery(s.Script)}
	kid := newGrandchild(s, base+Path, r)
	return call.RemoteRoles{
		Grandchild: func(ctx context.Context) error {
			err := kid.call(ctx)
			if brokeOff(err) {
				err = fmt.Errorf("grandma at %s stopped answering mid-call (was duplexdemo serve stopped?): %w", base, err)
			}
			return err
		},
		Record:   r.record,
		HandOver: newHandOverWatch,
		Facts:    requests,
		CallID:   r.callID,
	}
}

// newGrandchild returns the grandchild, calling url through the call's
// emulated link on at most one connection.
func newGrandchild(s *call.Session, url string, r *elsewhere) *grandchild {
	tr := &http.Transport{
		DialContext:           s.DialContext,
		MaxConnsPerHost:       1, // a walkie-talkie has one channel
		MaxIdleConnsPerHost:   1,
		IdleConnTimeout:       s.Silence(call.IdleTimeout),
		ResponseHeaderTimeout: responseHeaderTimeout + s.RoundTrip() + s.PhotoCrossing(),
	}
	return &grandchild{script: s.Script, rec: s.Rec, client: &http.Client{Transport: tr}, url: url, remote: r}
}

// requests counts the grandchild's HTTP requests: each of her lines is one.
func requests(tl *timeline.Timeline) []result.Fact {
	n := 0
	for _, m := range tl.Messages {
		if m.From == timeline.Client && m.Sent {
			n++
		}
	}
	return []result.Fact{{Key: "requests", Title: "HTTP requests", Value: float64(n), Compared: true}}
}

// record returns grandma's record as she handed it over.
func (r *elsewhere) record() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.log
}

// brokeOff says whether err is a connection to grandma ending under a call
// that was under way.
func brokeOff(err error) bool {
	return err != nil && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		strings.Contains(err.Error(), "server closed idle connection"))
}
