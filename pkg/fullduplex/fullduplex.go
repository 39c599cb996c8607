// Package fullduplex plays the call as a phone call: one WebSocket
// connection on which both sides speak whenever they like. Each side has
// exactly two goroutines on the connection: one that only reads (it hears)
// and one that only writes (it speaks), which is all gorilla/websocket
// allows and all full duplex needs.
//
// Every wait on the timeline is measured: a line is sent when its side's
// writer picks it up and starts writing it, and heard when its side's
// reader has read the whole message.
package fullduplex

import (
	"context"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

const (
	// Path is where grandma takes WebSocket calls.
	Path = "/call"
	// MaxMessage is the largest message either side accepts, in bytes; a
	// larger one closes the call with 1009 (message too big).
	MaxMessage = 4 << 10
	// Transport describes what carries the call.
	Transport = "WebSocket, RFC 6455, one TCP connection"

	// ReasonConnecting is why a line waits before the WebSocket is open:
	// the connection and its opening handshake take a round trip.
	ReasonConnecting = "connecting"
	// ReasonChannelBusy is why a line waits on the phone: its side's writer
	// is still writing an earlier message.
	ReasonChannelBusy = "channel busy"

	// writeWait bounds one write; a peer that stops reading is dropped.
	writeWait = 5 * time.Second
	// readWait bounds the silence between two messages from the peer,
	// beyond the script's own silences and one round trip of the link.
	readWait = 10 * time.Second
	// closeWait bounds how long a side that sent its close frame waits for
	// the peer's, as RFC 6455 asks, before closing the connection anyway;
	// one round trip of the emulated link is added to it.
	closeWait = time.Second
	// handshakeTimeout bounds the WebSocket opening handshake, plus one
	// round trip of the emulated link.
	handshakeTimeout = 5 * time.Second
	// remoteSlack multiplies the handshake's and the goodbye's bounds for
	// a grandma elsewhere: a classroom server may be busy with hundreds of
	// calls, and hands over her record before her farewell.
	remoteSlack = 5
)

// Run plays one call over a WebSocket and returns what it measured. Grandma
// serves on cfg.Listener and the grandchild calls her through the emulated
// link. The question is wanted at once, but waits for the WebSocket to
// open: a phone call costs one round trip before anyone can speak. Run
// returns when both sides have closed the call with 1000 (normal closure),
// or when ctx ends; either way nothing it started is left running.
func Run(ctx context.Context, cfg call.Config) (*call.Result, error) {
	c, err := call.Start(cfg)
	if err != nil {
		return nil, err
	}
	defer context.AfterFunc(ctx, c.Abort)() // stop at once when told to, however slow the link
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	g := &Grandma{
		script:   cfg.Script,
		rec:      c.Rec,
		readWait: c.Silence(readWait),
		upgrader: websocket.Upgrader{
			HandshakeTimeout: handshakeTimeout + c.RoundTrip(),
			// CheckOrigin is left nil: gorilla then accepts only requests
			// without an Origin header or from the server's own origin.
		},
	}
	stop := c.Serve(ctx, g)

	kid := &grandchild{
		script:    cfg.Script,
		rec:       c.Rec,
		dialer:    &websocket.Dialer{NetDialContext: c.DialContext, HandshakeTimeout: handshakeTimeout + c.RoundTrip()},
		closeWait: closeWait + c.RoundTrip(),
		readWait:  c.Silence(readWait),
		progress:  story.NewProgress(cfg.Script),
		url:       "ws://" + c.Listener.Addr().String() + Path,
	}
	err = kid.call(ctx)

	cancel()
	if serr := stop(); err == nil {
		err = serr
	}
	if parent.Err() != nil {
		err = parent.Err() // whatever broke on the way out, the call was stopped
	}
	return c.Finish("phone", Transport, true), err // either side may speak first
}

// write writes one message, bounded by writeWait. Only a side's writer
// goroutine may call it.
func write(conn *websocket.Conn, kind int, data []byte) error {
	if err := conn.SetWriteDeadline(time.Now().Add(writeWait)); err != nil {
		return err
	}
	return conn.WriteMessage(kind, data)
}

// closeFrame is a close message with a status code and a reason.
func closeFrame(code int, reason string) []byte {
	return websocket.FormatCloseMessage(code, reason)
}

// RunRemote plays the grandchild's side of a call over a WebSocket to a
// grandma elsewhere (duplexdemo serve) at server, a base URL such as
// http://192.168.1.20:8080, through the emulated link. It asks her for
// cfg.Script, and at the end joins her record of the call with the
// grandchild's, her clock aligned (Result.Alignment). cfg.Listener is not
// used. It returns when the call is over or ctx ends, leaving nothing
// running.
func RunRemote(ctx context.Context, cfg call.Config, server string) (*call.Result, error) {
	base, err := wire.ServerURL(server, "ws")
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

	r := &remote{}
	kid := &grandchild{
		script:    cfg.Script,
		rec:       c.Rec,
		dialer:    &websocket.Dialer{NetDialContext: c.DialContext, HandshakeTimeout: remoteSlack * (handshakeTimeout + c.RoundTrip())},
		closeWait: remoteSlack * (closeWait + c.RoundTrip()),
		readWait:  c.Silence(readWait),
		progress:  story.NewProgress(cfg.Script),
		url:       base + Path + "?" + wire.ScriptQuery(cfg.Script).Encode(),
		remote:    r,
	}
	err = kid.call(ctx)
	cancel()

	var hers *timeline.Timeline
	var facts wire.Facts
	var handOver int64
	if r.log != nil {
		// One unmasked text frame: a 2-byte header, with 2 or 8 more bytes
		// of length for a longer payload.
		n := int64(len(r.log))
		handOver = 2 + n
		switch {
		case n >= 1<<16:
			handOver += 8
		case n >= 126:
			handOver += 2
		}
		if err == nil {
			hers, facts, err = wire.DecodeRecord(r.log, cfg.Script)
		}
	}
	res, ferr := c.FinishRemote("phone", Transport, true, strings.Replace(base, "ws://", "http://", 1), hers, facts.Latency, handOver)
	if err == nil {
		err = ferr
	}
	if parent.Err() != nil {
		err = parent.Err()
	}
	return res, err
}
