package rawtcp

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// testWait bounds the silences in these tests, and a test's wait for an
// outcome is bounded by far more.
const testWait = 200 * time.Millisecond

// grandmaAlone serves grandma alone on loopback, for one call that the
// test plays by hand as the grandchild; the call's outcome comes on the
// returned channel. With the afterthought a minute away, she says only
// what the test asks for. A line the test writes is heard only if it was
// recorded as sent first (sent).
func grandmaAlone(t *testing.T) (conn *net.TCPConn, sent func(label, text string), outcome <-chan string) {
	t.Helper()
	return grandmaAloneWith(t, story.Options{})
}

// grandmaAloneWith is grandmaAlone, with a script of options o (but for
// the afterthought's time).
func grandmaAloneWith(t *testing.T, o story.Options) (conn *net.TCPConn, sent func(label, text string), outcome <-chan string) {
	t.Helper()
	o.AfterthoughtAt = time.Minute
	rec := timeline.NewRecorder(nil)
	g := &Grandma{
		script:    calltest.Script(t, o),
		rec:       rec,
		readWait:  testWait,
		closeWait: testWait,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err.Error()
			return
		}
		done <- g.serveCall(ctx, c)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		cancel()
		ln.Close()
		rec.Finish()
	})
	sent = func(label, text string) { rec.Sent(rec.Want(timeline.Client, label, text, "")) }
	return c.(*net.TCPConn), sent, done
}

// awaitOutcome returns the outcome of grandma's call, failing the test if
// it takes too long.
func awaitOutcome(t *testing.T, outcome <-chan string) string {
	t.Helper()
	select {
	case o := <-outcome:
		return o
	case <-time.After(5 * time.Second):
		t.Fatal("grandma's call did not end")
		return ""
	}
}

// TestGrandmaHangsUpOnBadInput: with no protocol, all grandma can do with
// a line she cannot take, or a grandchild gone silent or away, is hang up;
// she says why in the call's outcome, and the grandchild reads the end of
// the stream.
func TestGrandmaHangsUpOnBadInput(t *testing.T) {
	for _, c := range []struct {
		name string
		do   func(conn *net.TCPConn, sent func(label, text string)) error
		want string
	}{
		{"a line too long", func(conn *net.TCPConn, _ func(string, string)) error {
			_, err := conn.Write([]byte(strings.Repeat("x", call.MaxLine+1) + "\n"))
			return err
		}, "dropped: a line over 4096 bytes"},
		{"the longest line", func(conn *net.TCPConn, _ func(string, string)) error {
			_, err := conn.Write([]byte(strings.Repeat("x", call.MaxLine) + "\n"))
			return err
		}, "dropped: a line that was never sent"},
		{"a line not in the script", func(conn *net.TCPConn, sent func(string, string)) error {
			sent("chatter", "nice weather")
			_, err := conn.Write([]byte("nice weather\n"))
			return err
		}, "dropped: a line she does not answer"},
		{"silence", func(*net.TCPConn, func(string, string)) error { return nil },
			"dropped: the grandchild said nothing for 200ms"},
		{"hanging up mid-line", func(conn *net.TCPConn, _ func(string, string)) error {
			if _, err := conn.Write([]byte("Grandma, wh")); err != nil {
				return err
			}
			return conn.CloseWrite()
		}, "dropped: the grandchild hung up mid-line"},
		{"hanging up mid-story", func(conn *net.TCPConn, sent func(string, string)) error {
			sent(story.LabelQuestion, story.Question)
			if _, err := conn.Write([]byte(story.Question + "\n")); err != nil {
				return err
			}
			if _, err := bufio.NewReader(conn).ReadString('\n'); err != nil { // her first sentence
				return err
			}
			return conn.Close()
		}, "dropped: the grandchild hung up before her goodbye"},
		{"a line after the goodbye", func(conn *net.TCPConn, sent func(string, string)) error {
			sent(story.LabelGoodbye, story.Goodbye)
			_, err := conn.Write([]byte(story.Goodbye + "\n" + story.Question + "\n"))
			return err
		}, "ok"}, // her farewell is said: what follows it is dropped
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, sent, outcome := grandmaAlone(t)
			if err := c.do(conn, sent); err != nil {
				t.Fatal(err)
			}
			if got := awaitOutcome(t, outcome); got != c.want {
				t.Errorf("outcome: got %q, want %q", got, c.want)
			}
			// She has closed her side: the grandchild reads to its end.
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.Copy(io.Discard, conn); errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("grandma left the connection open: %v", err)
			}
		})
	}
}

// TestGrandmaHalfCloses: after the goodbye grandma says her farewell and
// shuts her side, while she still hears the grandchild to the end of hers.
func TestGrandmaHalfCloses(t *testing.T) {
	conn, sent, outcome := grandmaAlone(t)
	sent(story.LabelGoodbye, story.Goodbye)
	if _, err := conn.Write([]byte(story.Goodbye + "\n")); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(conn) // to her half-close
	if want := story.Farewell + "\n"; err != nil || string(got) != want {
		t.Fatalf("read %q, %v; want %q and the end of the stream", got, err, want)
	}
	select {
	case o := <-outcome:
		t.Fatalf("the call ended (%s) before the grandchild closed her side", o)
	default:
	}
	if err := conn.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if got := awaitOutcome(t, outcome); got != "ok" {
		t.Errorf("outcome: got %q, want ok", got)
	}
}

// badGrandma is a mode whose grandchild is the real one, with waits
// bounded by testWait beyond the script's, and whose grandma does what the test says on the
// one connection, then holds it until the call is over.
func badGrandma(serve func(s *call.Session, conn net.Conn) error) call.Mode {
	m := Mode()
	m.Local = func(s *call.Session) call.Roles {
		kid := &grandchild{script: s.Script, rec: s.Rec, dial: s.DialContext, addr: s.Addr(), readWait: s.Silence(testWait), closeWait: testWait}
		return call.Roles{
			Serve: func(ctx context.Context, ln net.Listener) error {
				conn, err := ln.Accept()
				if err != nil {
					return err
				}
				defer conn.Close()
				if err := serve(s, conn); err != nil {
					return err
				}
				<-ctx.Done()
				return nil
			},
			Grandchild: kid.call,
		}
	}
	return m
}

// readQuestion reads the grandchild's first line.
func readQuestion(conn net.Conn) error {
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := bufio.NewReader(conn).ReadString('\n')
	return err
}

// TestGrandchildHangsUpOnBadInput: the grandchild ends the call, saying
// why, when grandma sends what she cannot take, goes silent or hangs up.
func TestGrandchildHangsUpOnBadInput(t *testing.T) {
	for _, c := range []struct {
		name  string
		serve func(s *call.Session, conn net.Conn) error
		want  error
	}{
		{"a line too long", func(s *call.Session, conn net.Conn) error {
			if err := readQuestion(conn); err != nil {
				return err
			}
			_, err := conn.Write([]byte(strings.Repeat("x", call.MaxLine+1) + "\n"))
			return err
		}, errLineTooLong},
		{"silence", func(_ *call.Session, conn net.Conn) error { return readQuestion(conn) }, os.ErrDeadlineExceeded},
		{"hanging up mid-story", func(s *call.Session, conn net.Conn) error {
			if err := readQuestion(conn); err != nil {
				return err
			}
			s.Rec.Sent(s.Rec.Want(timeline.Server, story.LabelStory, s.Script.Story[0], ""))
			if _, err := conn.Write([]byte(s.Script.Story[0] + "\n")); err != nil {
				return err
			}
			return conn.Close()
		}, errHungUpEarly},
		{"no hanging up", func(s *call.Session, conn net.Conn) error {
			// She tells her story at once, hears the grandchild out and says
			// farewell, but keeps her side open.
			say := func(label, text string) error {
				s.Rec.Sent(s.Rec.Want(timeline.Server, label, text, ""))
				_, err := conn.Write([]byte(text + "\n"))
				return err
			}
			r := bufio.NewReader(conn)
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			for _, label := range []string{story.LabelQuestion, story.LabelInterruption, story.LabelGoodbye} {
				if _, err := r.ReadString('\n'); err != nil {
					return err
				}
				switch label {
				case story.LabelQuestion:
					for _, sentence := range s.Script.Story {
						if err := say(story.LabelStory, sentence); err != nil {
							return err
						}
					}
				case story.LabelGoodbye:
					return say(story.LabelFarewell, s.Script.Farewell)
				}
			}
			return nil
		}, errNoHangUp},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			s := calltest.Script(t, story.Options{Sentences: 2, Speed: 4})
			_, err := call.Run(context.Background(), badGrandma(c.serve), call.Config{Script: s, Latency: 10 * time.Millisecond})
			if !errors.Is(err, c.want) {
				t.Errorf("got %v, want %v", err, c.want)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("the call took %v to end", d)
			}
		})
	}
}
