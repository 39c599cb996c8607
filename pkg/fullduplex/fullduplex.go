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
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

const (
	// Path is where grandma takes WebSocket calls.
	Path = "/call"

	// writeWait bounds one write; a peer that stops reading is dropped.
	writeWait = 5 * time.Second
	// readWait bounds the silence between two messages from the peer,
	// beyond the script's own silences and one round trip of the link.
	readWait = 10 * time.Second
	// closeWait bounds how long a side that sent its close frame waits for
	// the peer's, as RFC 6455 asks, before closing the connection anyway;
	// one round trip of the emulated link is added to it.
	closeWait = time.Second
	// handshakeTimeout bounds opening the WebSocket, plus two round trips
	// of the emulated link: the TCP handshake's and the opening
	// handshake's (on grandma's side, only the latter's).
	handshakeTimeout = 5 * time.Second
	// remoteSlack multiplies the handshake's and the goodbye's bounds for
	// a grandma elsewhere: a classroom server may be busy with hundreds of
	// calls, and hands over her record before her farewell.
	remoteSlack = 5
)

// Mode is the phone call: what it is, and its two roles. A message larger
// than call.MaxLine closes the call with 1009 (message too big).
func Mode() call.Mode {
	return call.Mode{
		Mode: result.Mode{
			Key:            "phone",
			Name:           "the phone call",
			Transport:      "WebSocket, RFC 6455, one TCP connection",
			ServerMayStart: true, // either side may speak first
		},
		Photo: true, // grandma reads a message as long as the photo
		Title: func(call.Config) string { return "PHONE CALL: WebSocket, both sides talk at once" },
		Help: call.Help{
			Short: "The phone call: one WebSocket, both sides talk whenever they like",
			Long: `phone plays the same call over a WebSocket, one TCP connection upgraded
from HTTP, like a phone call: both sides can talk at the same time.

Grandma sends her story sentence by sentence while the grandchild's
interruption travels the other way at once; she hears it mid-story and
answers straight away. Her afterthought is simply said when she thinks of
it, and goodbye is a WebSocket close handshake (1000, normal closure).`,
			Example: `  duplexdemo phone
  duplexdemo phone --latency 150ms --pace 400ms
  duplexdemo phone --speed 4 --color never
  duplexdemo phone --json
  duplexdemo phone --html phone.html --trace-out phone.json`,
		},
		Local:  local,
		Remote: remote,
	}
}

// local sets up a call in this process. The question is wanted at once,
// but waits for the WebSocket to open: a phone call costs one round trip
// before anyone can speak. The call ends when both sides have closed it
// with 1000 (normal closure).
func local(s *call.Session) call.Roles {
	g := &Grandma{
		script:    s.Script,
		rec:       s.Rec,
		readWait:  s.Silence(readWait),
		closeWait: closeWait + s.RoundTrip(),
		upgrader: websocket.Upgrader{
			HandshakeTimeout: handshakeTimeout + s.RoundTrip(),
			// CheckOrigin is left nil: gorilla then accepts only requests
			// without an Origin header or from the server's own origin.
		},
	}
	kid := &grandchild{
		script:    s.Script,
		rec:       s.Rec,
		dialer:    &websocket.Dialer{NetDialContext: s.DialContext, HandshakeTimeout: handshakeTimeout + 2*s.RoundTrip()},
		closeWait: closeWait + s.RoundTrip(),
		readWait:  s.Silence(readWait),
		url:       "ws://" + s.Addr() + Path,
	}
	return call.Roles{Grandma: g, Grandchild: kid.call}
}

// remote sets up the grandchild's side of a call to grandma at base: the
// script rides on the opening handshake, and her record of the call
// arrives in a last text message before her close frame.
func remote(s *call.Session, base string) call.RemoteRoles {
	r := &elsewhere{}
	id := wire.NewCallID()
	q := wire.ScriptQuery(s.Script)
	q.Set(wire.QueryCall, id)
	kid := &grandchild{
		script:    s.Script,
		rec:       s.Rec,
		dialer:    &websocket.Dialer{NetDialContext: s.DialContext, HandshakeTimeout: remoteSlack * (handshakeTimeout + 2*s.RoundTrip())},
		closeWait: remoteSlack * (closeWait + s.RoundTrip()),
		readWait:  s.Silence(readWait),
		url:       "ws" + strings.TrimPrefix(base, "http") + Path + "?" + q.Encode(),
		remote:    r,
	}
	return call.RemoteRoles{Grandchild: kid.call, Record: func() []byte { return r.log }, HandOver: newHandOverWatch, CallID: id}
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
