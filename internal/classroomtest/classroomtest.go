// Package classroomtest serves grandma for tests of what calls her from
// elsewhere: the classroom server itself, and the page it shows.
package classroomtest

import (
	"context"
	"fmt"
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

// ServeWithUDP is Serve with a UDP socket of its own on 127.0.0.1 for
// WebTransport (Config.Packet).
func ServeWithUDP(t testing.TB, cfg classroom.Config) string {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Packet = pc
	return Serve(t, cfg)
}

// Running is grandma served until a test stops her.
type Running struct {
	// URL is where she listens, such as http://127.0.0.1:41234.
	URL    string
	stop   context.CancelFunc
	served chan error
	done   bool
}

// Start runs grandma with cfg on a free port of 127.0.0.1 until the test
// calls Stop, or ends (then she is stopped, and must stop within two
// seconds).
func Start(t testing.TB, cfg classroom.Config) *Running {
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
	r := &Running{URL: "http://" + ln.Addr().String(), stop: cancel, served: make(chan error, 1)}
	go func() { r.served <- s.Serve(ctx) }()
	t.Cleanup(func() {
		if !r.done {
			if _, err := r.Stop(2 * time.Second); err != nil {
				t.Error(err)
			}
		}
	})
	return r
}

// Stop tells grandma to stop and waits up to limit for Serve to return: it
// returns how long that took, and Serve's error, or one saying she did
// not stop in time.
func (r *Running) Stop(limit time.Duration) (time.Duration, error) {
	r.done = true
	began := time.Now()
	r.stop()
	select {
	case err := <-r.served:
		if err != nil {
			return time.Since(began), fmt.Errorf("Serve: %w", err)
		}
		return time.Since(began), nil
	case <-time.After(limit):
		return limit, fmt.Errorf("the server did not stop within %v", limit)
	}
}
