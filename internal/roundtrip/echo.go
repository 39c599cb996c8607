package roundtrip

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/duplexdemo/duplexdemo/pkg/story"
)

// Echo starts a bare gorilla/websocket server on 127.0.0.1, with a port
// from the system, that answers each message with grandma's answer, and
// connects a bare gorilla client to it: no recorder, no goroutines beyond
// the server's one per connection, no deadlines. Its Trip writes the
// interruption and reads the answer: the same text each way as a mode's
// trip, in WebSocket's framing.
//
// Both are closed, and the server's handler has returned, when tb's
// cleanup runs. The first trip has been made, off the clock.
func Echo(tb testing.TB) Line {
	tb.Helper()
	var handlers sync.WaitGroup
	upgrader := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Done()
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		for {
			kind, _, err := conn.ReadMessage()
			if err != nil || conn.WriteMessage(kind, []byte(story.Answer)) != nil {
				return // the client has gone
			}
		}
	}))
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		srv.Close()
		tb.Fatalf("calling the gorilla echo: %v", err)
	}
	tb.Cleanup(func() {
		conn.Close() // the handler's next read fails: it returns
		srv.Close()
		handlers.Wait()
	})
	text := []byte(story.Interruption)
	line := Line{Trip: func() error {
		if err := conn.WriteMessage(websocket.TextMessage, text); err != nil {
			return err
		}
		_, _, err := conn.ReadMessage()
		return err
	}}
	if err := line.Trip(); err != nil {
		tb.Fatalf("the gorilla echo: %v", err)
	}
	return line
}
