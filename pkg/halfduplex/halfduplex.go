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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

const (
	// Path is where grandma listens for lines.
	Path = "/say"
	// MaxMessage is the largest line either side accepts, in bytes.
	MaxMessage = 4 << 10
	// MaxAnswer bounds one whole response: a story and what rides on it.
	MaxAnswer = 64 << 10
	// Transport describes what carries the call.
	Transport = "HTTP/1.1 request/response, one TCP connection"

	// ReasonChannelBusy is why the grandchild waits: the one connection is
	// still carrying grandma's answer to an earlier request.
	ReasonChannelBusy = "channel busy"
	// ReasonNoRequest is why grandma waits: HTTP lets a server speak only in
	// reply to a request.
	ReasonNoRequest = "no request to answer"
	// ReasonConnecting is why the grandchild's first line waits: the
	// connection is still being opened.
	ReasonConnecting = "connecting"

	// responseHeaderTimeout bounds how long the grandchild waits for an
	// answer to start once its request is written, plus one round trip of
	// the emulated link.
	responseHeaderTimeout = 10 * time.Second
)

// Run plays one call over HTTP/1.1 and returns what it measured. Grandma
// serves on cfg.Listener and the grandchild calls her through the emulated
// link. Run returns when the grandchild has said goodbye and both sides
// have hung up, or when ctx ends; either way nothing it started is left
// running.
func Run(ctx context.Context, cfg call.Config) (*call.Result, error) {
	c, err := call.Start(cfg)
	if err != nil {
		return nil, err
	}
	defer context.AfterFunc(ctx, c.Abort)() // stop at once when told to, however slow the link
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	g := newGrandma(cfg.Script, c.Rec)
	stop := c.Serve(ctx, g)
	remembered := make(chan struct{})
	go func() {
		defer close(remembered)
		g.Remember(ctx)
	}()

	tr := &http.Transport{
		DialContext:           c.DialContext,
		MaxConnsPerHost:       1, // a walkie-talkie has one channel
		MaxIdleConnsPerHost:   1,
		IdleConnTimeout:       c.Silence(call.IdleTimeout),
		ResponseHeaderTimeout: responseHeaderTimeout + c.RoundTrip(),
	}
	kid := &grandchild{script: cfg.Script, rec: c.Rec, client: &http.Client{Transport: tr}, url: "http://" + c.Listener.Addr().String() + Path,
		progress: story.NewProgress(cfg.Script), interrupting: make(chan struct{})}
	err = kid.call(ctx)
	cancel()
	tr.CloseIdleConnections()

	<-remembered
	if serr := stop(); err == nil {
		err = serr
	}
	if parent.Err() != nil {
		err = parent.Err() // whatever broke on the way out, the call was stopped
	}
	res := c.Finish("walkie", Transport, false) // the server may speak only in reply
	for _, m := range res.Timeline.Messages {
		if m.From == timeline.Client && m.Sent {
			res.Requests++ // each of her lines is a request
		}
	}
	return res, err
}

// RunRemote plays the grandchild's side of a call over HTTP/1.1 to a
// grandma elsewhere (duplexdemo serve) at server, a base URL such as
// http://192.168.1.20:8080, through the emulated link. It asks her for
// cfg.Script, and at the end joins her record of the call with the
// grandchild's, her clock aligned (Result.Alignment). cfg.Listener is not
// used. It returns when the call is over or ctx ends, leaving nothing
// running.
func RunRemote(ctx context.Context, cfg call.Config, server string) (*call.Result, error) {
	base, err := wire.ServerURL(server, "http")
	if err != nil {
		return nil, err
	}
	c, err := call.StartRemote(cfg)
	if err != nil {
		return nil, err
	}
	defer context.AfterFunc(ctx, c.Abort)()
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	tr := &http.Transport{
		DialContext:           c.DialContext,
		MaxConnsPerHost:       1,
		MaxIdleConnsPerHost:   1,
		IdleConnTimeout:       c.Silence(call.IdleTimeout),
		ResponseHeaderTimeout: responseHeaderTimeout + c.RoundTrip(),
	}
	r := &remote{callID: wire.NewCallID(), script: wire.ScriptQuery(cfg.Script)}
	kid := &grandchild{script: cfg.Script, rec: c.Rec, client: &http.Client{Transport: tr}, url: base + Path,
		progress: story.NewProgress(cfg.Script), remote: r, interrupting: make(chan struct{})}
	err = kid.call(ctx)
	cancel()
	tr.CloseIdleConnections()
	if brokeOff(err) {
		err = fmt.Errorf("grandma at %s stopped answering mid-call (was duplexdemo serve stopped?): %w", base, err)
	}

	var hers *timeline.Timeline
	var facts wire.Facts
	var handOver int64
	r.mu.Lock()
	log := r.log
	r.mu.Unlock()
	if log != nil {
		// One chunk of the chunked answer: its size in hex, CRLF, the
		// line and its newline, CRLF.
		n := int64(len(log) + 1)
		handOver = int64(len(strconv.FormatInt(n, 16))) + 2 + n + 2
		if err == nil {
			hers, facts, err = wire.DecodeRecord(log, cfg.Script)
		}
	}
	res, ferr := c.FinishRemote("walkie", Transport, false, base, hers, facts.Latency, handOver)
	if err == nil {
		err = ferr
	}
	if parent.Err() != nil {
		err = parent.Err()
	}
	return res, err
}

// brokeOff says whether err is a connection to grandma ending under a call
// that was under way.
func brokeOff(err error) bool {
	return err != nil && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		strings.Contains(err.Error(), "server closed idle connection"))
}
