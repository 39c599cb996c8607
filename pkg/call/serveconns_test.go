package call

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// TestRunServesAGrandmaWhoIsNotHTTP: Run calls Roles.Serve instead of
// serving Grandma, ends its context when the grandchild has hung up and
// returns its error; each connection can half-close, and its closing is
// recorded.
func TestRunServesAGrandmaWhoIsNotHTTP(t *testing.T) {
	served := errors.New("grandma's own error")
	var afterHalfClose string // what grandma read once she had half-closed
	m := Mode{
		Mode: result.Mode{Key: "test", Name: "the test", Transport: "tcp"},
		Local: func(s *Session) Roles {
			return Roles{
				Serve: func(ctx context.Context, ln net.Listener) error {
					conn, err := ln.Accept()
					if err != nil {
						return err
					}
					defer conn.Close()
					conn.SetDeadline(time.Now().Add(5 * time.Second))
					r := bufio.NewReader(conn)
					if _, err := r.ReadString('\n'); err != nil {
						return err
					}
					if _, err := conn.Write([]byte("hi\n")); err != nil {
						return err
					}
					cw, ok := conn.(interface{ CloseWrite() error })
					if !ok {
						return errors.New("the connection has no CloseWrite")
					}
					if err := cw.CloseWrite(); err != nil {
						return err
					}
					rest, err := io.ReadAll(r)
					if err != nil {
						return err
					}
					afterHalfClose = string(rest)
					<-ctx.Done()
					return served
				},
				Grandchild: func(ctx context.Context) error {
					conn, err := s.DialContext(ctx, "tcp", s.Addr())
					if err != nil {
						return err
					}
					defer conn.Close()
					if _, err := conn.Write([]byte("hello\n")); err != nil {
						return err
					}
					conn.SetReadDeadline(time.Now().Add(5 * time.Second))
					got, err := io.ReadAll(conn) // to grandma's half-close
					if err != nil || string(got) != "hi\n" {
						return errors.Join(errors.New("did not hear hi, then the end of the stream"), err)
					}
					_, err = conn.Write([]byte("bye\n")) // she still hears, after hers
					return err
				},
			}
		},
	}
	// At latency 0: behind a delay, the link stops delivering the bytes in
	// flight once the peer's end of the stream arrives.
	res, err := Run(context.Background(), m, Config{Script: story.Default()})
	if !errors.Is(err, served) {
		t.Fatalf("got %v, want Serve's error", err)
	}
	if afterHalfClose != "bye\n" {
		t.Errorf("grandma read %q after her half-close, want %q", afterHalfClose, "bye\n")
	}
	closes := 0
	for _, e := range res.Timeline.Events {
		if e.Side == timeline.Server && e.Kind == timeline.KindClose {
			closes++
		}
	}
	if closes != 1 {
		t.Errorf("grandma's connection closed %d times on the timeline, want 1", closes)
	}
}
