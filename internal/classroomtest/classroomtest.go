// Package classroomtest serves grandma for tests of what calls her from
// elsewhere: the classroom server itself, and the page it shows.
package classroomtest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/classroom"
)

// Serve runs grandma with cfg on a free port of 127.0.0.1 until the test
// ends, checks that she stops within two seconds then, and returns her URL.
func Serve(t testing.TB, cfg classroom.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listener = ln
	s, err := classroom.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(2 * time.Second):
			t.Error("the server took over 2s to stop")
		}
	})
	return "http://" + ln.Addr().String()
}
