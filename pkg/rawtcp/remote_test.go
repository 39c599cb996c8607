package rawtcp

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// remoteGrandma serves, for one call, a grandma elsewhere who reads the
// upgrade request and then does what the test says on the connection; it
// returns her address as a base URL.
func remoteGrandma(t *testing.T, serve func(conn net.Conn, r *bufio.Reader, req *http.Request)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(conn)
		req, err := http.ReadRequest(r)
		if err != nil {
			return
		}
		serve(conn, r, req)
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return "http://" + ln.Addr().String()
}

// playsAlong answers the upgrade and plays the script as quickly as the
// lines come: the whole story and her afterthought on the question, her
// answer on the interruption, and on the goodbye her farewell, then
// whatever follows (after), and a close.
func playsAlong(s story.Script, after string) func(net.Conn, *bufio.Reader, *http.Request) {
	return func(conn net.Conn, r *bufio.Reader, _ *http.Request) {
		if _, err := io.WriteString(conn, switching); err != nil {
			return
		}
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			var say []string
			switch strings.TrimSuffix(line, "\n") {
			case s.Question:
				say = append(append(say, s.Story...), s.Afterthought)
			case s.Interruption:
				say = []string{s.Answer}
			case s.Goodbye:
				_, _ = io.WriteString(conn, s.Farewell+"\n"+after)
				_ = conn.(*net.TCPConn).CloseWrite()
				_, _ = io.Copy(io.Discard, r)
				return
			}
			for _, l := range say {
				if _, err := io.WriteString(conn, l+"\n"); err != nil {
					return
				}
			}
		}
	}
}

// remoteQuick is the mode, with the grandchild's waits for a grandma
// elsewhere bounded by testWait.
func remoteQuick() call.Mode {
	m := Mode()
	m.Remote = func(s *call.Session, base string) call.RemoteRoles {
		roles := remote(s, base)
		r := &elsewhere{url: base + Path + "?" + wire.ScriptQuery(s.Script).Encode(), upgradeWait: testWait}
		kid := &grandchild{script: s.Script, rec: s.Rec, dial: s.DialContext, addr: strings.TrimPrefix(base, "http://"),
			readWait: s.Silence(testWait), closeWait: testWait, remote: r}
		roles.Grandchild, roles.Record = kid.call, func() []byte { return r.log }
		return roles
	}
	return m
}

// TestGrandchildElsewhere: the grandchild asks to switch to lines as the
// protocol says, and ends the call with one clear error when grandma
// elsewhere does not answer the upgrade, refuses it, switches to another
// protocol, or says something other than her record after her farewell.
func TestGrandchildElsewhere(t *testing.T) {
	s := calltest.Script(t, story.Options{Speed: story.MaxSpeed})
	for _, tc := range []struct {
		name  string
		serve func(net.Conn, *bufio.Reader, *http.Request)
		says  string
	}{
		{"no answer to the upgrade", func(conn net.Conn, r *bufio.Reader, _ *http.Request) { _, _ = r.ReadByte() },
			"did not answer the upgrade within 200ms"},
		{"a refusal", func(conn net.Conn, _ *bufio.Reader, _ *http.Request) {
			_, _ = io.WriteString(conn, "HTTP/1.1 400 Bad Request\r\nContent-Length: 23\r\n"+wire.HeaderVersion+": 1\r\n\r\ngrandma cannot play it\n")
		}, "she answered 400 Bad Request: grandma cannot play it"},
		{"not grandma", func(conn net.Conn, _ *bufio.Reader, _ *http.Request) {
			_, _ = io.WriteString(conn, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n<p>no</p>")
		}, "is not duplexdemo serve"},
		{"another protocol", func(conn net.Conn, _ *bufio.Reader, _ *http.Request) {
			_, _ = io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+wire.HeaderVersion+": 1\r\n\r\n")
		}, `she switched to "websocket"`},
		{"a line after her farewell", playsAlong(s, "See you!\n"), "only her record of the call may follow it"},
		{"no record", playsAlong(s, ""), "did not hand over her record"},
		{"a record that is not one", playsAlong(s, wire.RecordPrefix+"2}\n"), "protocol 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requests := make(chan *http.Request, 1)
			base := remoteGrandma(t, func(conn net.Conn, r *bufio.Reader, req *http.Request) {
				requests <- req
				tc.serve(conn, r, req)
			})
			_, err := call.RunRemote(context.Background(), remoteQuick(), call.Config{Script: s}, base)
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("got %v; want an error that says %q", err, tc.says)
			}
			var asked *http.Request
			select {
			case asked = <-requests:
			case <-time.After(5 * time.Second):
				t.Fatal("the grandchild never asked")
			}
			if err := CheckUpgrade(asked); err != nil || asked.URL.Path != Path || asked.Header.Get(wire.HeaderVersion) != "1" {
				t.Errorf("the grandchild asked %s %s with %v: %v", asked.Method, asked.URL, asked.Header, err)
			}
			if _, err := wire.ParseScript(asked.URL.Query()); err != nil {
				t.Errorf("the script she asked for: %v", err)
			}
		})
	}
}
