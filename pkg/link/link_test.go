package link

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/duplexdemo/duplexdemo/internal/pipenet"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const latency = 40 * time.Millisecond

// pair returns a wrapped client end and the plain server end of an
// in-memory connection, for use inside a synctest bubble.
func pair(t *testing.T, d time.Duration, m *Meter) (client, server net.Conn) {
	t.Helper()
	l := pipenet.Listen()
	t.Cleanup(func() { l.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	dialer := &Dialer{Latency: d, Meter: m, Dial: l.DialContext}
	c, err := dialer.DialContext(context.Background(), "pipe", "pipe")
	if err != nil {
		t.Fatal(err)
	}
	return c, <-accepted
}

func readFull(t *testing.T, c net.Conn, n int) string {
	t.Helper()
	buf := make([]byte, n)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	return string(buf)
}

// TestEachDirectionDelayed: bytes written at t are readable by the peer at
// exactly t+latency, in both directions, on the fake clock.
func TestEachDirectionDelayed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client, server := pair(t, latency, new(Meter))
		defer client.Close()
		defer server.Close()
		start := time.Now()
		if _, err := client.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		if got := readFull(t, server, 4); got != "ping" {
			t.Fatalf("server read %q, want ping", got)
		}
		if d := time.Since(start); d != latency {
			t.Errorf("client to server took %v, want %v", d, latency)
		}
		start = time.Now()
		if _, err := server.Write([]byte("pong")); err != nil {
			t.Fatal(err)
		}
		if got := readFull(t, client, 4); got != "pong" {
			t.Fatalf("client read %q, want pong", got)
		}
		if d := time.Since(start); d != latency {
			t.Errorf("server to client took %v, want %v", d, latency)
		}
	})
}

// TestInFlightBlocksNothing: writes return at once while earlier bytes are
// in flight, and bytes in flight one way do not hold up the other way.
func TestInFlightBlocksNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client, server := pair(t, latency, new(Meter))
		defer client.Close()
		defer server.Close()
		start := time.Now()
		for _, s := range []string{"a", "b", "c"} {
			if _, err := client.Write([]byte(s)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if d := time.Since(start); d != 30*time.Millisecond {
			t.Errorf("three writes 10ms apart took %v; writes must not wait for bytes in flight", d)
		}
		// Now the other way, while "b" and "c" are still in flight.
		go server.Write([]byte("z"))
		if got := readFull(t, client, 1); got != "z" {
			t.Fatalf("client read %q, want z", got)
		}
		if d := time.Since(start); d != 30*time.Millisecond+latency {
			t.Errorf("z arrived at %v, want %v: one direction must not wait for the other", d, 30*time.Millisecond+latency)
		}
		if got := readFull(t, server, 3); got != "abc" {
			t.Errorf("server read %q, want abc in order", got)
		}
	})
}

func TestCountsBytes(t *testing.T) {
	for _, d := range []time.Duration{0, latency} {
		synctest.Test(t, func(t *testing.T) {
			m := new(Meter)
			client, server := pair(t, d, m)
			go client.Write([]byte("hello")) // a pipe with no latency blocks until read
			readFull(t, server, 5)
			go server.Write([]byte("hi!"))
			readFull(t, client, 3)
			synctest.Wait() // let the writers return and count
			client.Close()
			server.Close()
			if m.Written() != 5 || m.Read() != 3 || m.Conns() != 1 {
				t.Errorf("latency %v: written %d, read %d, conns %d; want 5, 3, 1", d, m.Written(), m.Read(), m.Conns())
			}
		})
	}
}

// TestTapSeesWhatIsCounted: a connection's tap is given exactly the bytes
// BytesRead counts, in order, as they come off the real connection: behind
// a latency, before the owner can read them.
func TestTapSeesWhatIsCounted(t *testing.T) {
	for _, d := range []time.Duration{0, latency} {
		synctest.Test(t, func(t *testing.T) {
			l := pipenet.Listen()
			defer l.Close()
			accepted := make(chan net.Conn, 1)
			go func() {
				c, _ := l.Accept()
				accepted <- c
			}()
			var tap bytes.Buffer // only the reader's goroutine writes it, until synctest.Wait
			dialer := &Dialer{Latency: d, Meter: new(Meter), Dial: l.DialContext}
			client, err := dialer.DialTapped(context.Background(), "pipe", "pipe", &tap)
			if err != nil {
				t.Fatal(err)
			}
			server := <-accepted
			go server.Write([]byte("hello, "))
			if d > 0 {
				synctest.Wait() // arrived, not yet readable
				if tap.String() != "hello, " || client.BytesRead() != 7 {
					t.Errorf("latency %v: before the latency passed, the tap had %q and BytesRead was %d; want what arrived, and its count", d, tap.String(), client.BytesRead())
				}
			}
			readFull(t, client, 7)
			go server.Write([]byte("world"))
			readFull(t, client, 5)
			synctest.Wait()
			client.Close()
			server.Close()
			if tap.String() != "hello, world" || client.BytesRead() != int64(tap.Len()) {
				t.Errorf("latency %v: the tap had %q, BytesRead %d; want %q and its length", d, tap.String(), client.BytesRead(), "hello, world")
			}
		})
	}
}

func TestReadDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client, server := pair(t, latency, new(Meter))
		defer server.Close()
		defer client.Close()
		client.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		start := time.Now()
		_, err := client.Read(make([]byte, 1))
		var ne net.Error
		if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("Read past the deadline: got %v, want a timeout", err)
		}
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Errorf("Read gave up after %v, want 100ms", d)
		}
	})
}

// TestCloseDeliversInFlight: bytes written just before Close still reach
// the peer one latency later, followed by the end of the stream.
func TestCloseDeliversInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client, server := pair(t, latency, new(Meter))
		defer server.Close()
		start := time.Now()
		client.Write([]byte("bye"))
		go client.Close()
		got, err := io.ReadAll(server)
		if string(got) != "bye" || err != nil {
			t.Errorf("peer read %q, %v; want bye and a clean end", got, err)
		}
		if d := time.Since(start); d != latency {
			t.Errorf("the last bytes arrived after %v, want %v", d, latency)
		}
		if _, err := client.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Write after Close: got %v, want net.ErrClosed", err)
		}
	})
}

// TestRealTCP runs the link on a loopback socket: an echo takes at least
// two latencies (a lower bound that holds on any machine).
func TestRealTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	closed := make(chan struct{})
	d := &Dialer{Latency: 20 * time.Millisecond, Meter: new(Meter), OnClose: func() { close(closed) }}
	c, err := d.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c.Write([]byte("echo"))
	if got := readFull(t, c, 4); got != "echo" {
		t.Errorf("read %q, want echo", got)
	}
	if rtt := time.Since(start); rtt < 40*time.Millisecond {
		t.Errorf("round trip took %v, want at least 40ms", rtt)
	}
	c.Close()
	<-closed
}

// TestAbortDropsInFlight: an aborted connection closes at once and the
// bytes still in flight never arrive, as when a cable is pulled.
func TestAbortDropsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		closed := false
		l := pipenet.Listen()
		defer l.Close()
		accepted := make(chan net.Conn, 1)
		go func() {
			c, _ := l.Accept()
			accepted <- c
		}()
		d := &Dialer{Latency: latency, Meter: new(Meter), Dial: l.DialContext, OnClose: func() { closed = true }}
		client, err := d.DialContext(context.Background(), "pipe", "pipe")
		if err != nil {
			t.Fatal(err)
		}
		server := <-accepted
		defer server.Close()
		client.Write([]byte("lost"))
		start := time.Now()
		if err := Abort(client); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("Abort took %v, want no time at all", d)
		}
		got, _ := io.ReadAll(server)
		if len(got) != 0 || !closed {
			t.Errorf("peer read %q after the abort (onClose called: %v); want nothing, and onClose called", got, closed)
		}
	})
}

// TestAbortWhileWriting aborts connections whose pump is in the middle of
// writing queued bytes to the real connection, many times over: the queue
// Abort drops must never trip the pump.
func TestAbortWhileWriting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(io.Discard, c)
			}()
		}
	}()
	d := &Dialer{Latency: time.Microsecond, Meter: new(Meter)}
	for range 200 {
		c, err := d.DialContext(context.Background(), "tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			c.Write(make([]byte, 4096))
		}
		if err := Abort(c); err != nil {
			t.Fatal(err)
		}
	}
}

// tcpPair returns a wrapped client end and the plain server end of a real
// TCP connection on 127.0.0.1.
func tcpPair(t *testing.T, d time.Duration) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := (&Dialer{Latency: d, Meter: new(Meter)}).DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("no connection accepted")
	}
	return c, s
}

// TestCloseWrite: a half-close goes behind the bytes in flight, a latency
// later, and the peer can still answer; a write after it fails. Where the
// network cannot half-close, it says so.
func TestCloseWrite(t *testing.T) {
	for _, d := range []time.Duration{0, 30 * time.Millisecond} {
		t.Run(d.String(), func(t *testing.T) {
			c, s := tcpPair(t, d)
			defer c.Close()
			defer s.Close()
			start := time.Now()
			if _, err := c.Write([]byte("bye")); err != nil {
				t.Fatal(err)
			}
			if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write([]byte("more")); err == nil {
				t.Error("a write after CloseWrite succeeded")
			}
			all, err := io.ReadAll(s) // to the end of stream
			if err != nil || string(all) != "bye" {
				t.Fatalf("the peer read %q, %v; want bye, then the end", all, err)
			}
			if took := time.Since(start); took < d {
				t.Errorf("the end of stream came after %v, before the latency %v", took, d)
			}
			if _, err := s.Write([]byte("farewell")); err != nil {
				t.Fatal(err)
			}
			if got := readFull(t, c, 8); got != "farewell" {
				t.Errorf("after half-closing, read %q; want the peer's answer", got)
			}
		})
	}
	synctest.Test(t, func(t *testing.T) {
		c, s := pair(t, latency, new(Meter))
		defer c.Close()
		defer s.Close()
		if err := c.(interface{ CloseWrite() error }).CloseWrite(); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("CloseWrite on a pipe: %v, want ErrUnsupported", err)
		}
	})
}

// TestPeerHalfCloseKeepsInFlight: when the peer half-closes, the bytes this
// side still has in flight to it are delivered, not dropped.
func TestPeerHalfCloseKeepsInFlight(t *testing.T) {
	c, s := tcpPair(t, 40*time.Millisecond)
	defer c.Close()
	defer s.Close()
	if _, err := c.Write([]byte("in flight")); err != nil {
		t.Fatal(err)
	}
	if err := s.(*net.TCPConn).CloseWrite(); err != nil { // the peer is done talking
		t.Fatal(err)
	}
	if all, err := io.ReadAll(c); err != nil || len(all) != 0 {
		t.Fatalf("read %q, %v from a peer that said nothing", all, err)
	}
	if got := readFull(t, s, 9); got != "in flight" {
		t.Errorf("the peer read %q; want what was in flight when it half-closed", got)
	}
}
