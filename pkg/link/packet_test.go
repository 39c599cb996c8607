package link

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"testing"
	"time"
)

// udpPair returns a wrapped UDP socket and a plain one, both on 127.0.0.1
// with ports from the system. The test closes both.
func udpPair(t *testing.T, latency time.Duration) (wrapped *PacketConn, peer *net.UDPConn) {
	t.Helper()
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	wrapped = WrapPacket(listen(), latency, nil)
	peer = listen()
	t.Cleanup(func() {
		wrapped.Close()
		peer.Close()
	})
	return wrapped, peer
}

// readDatagram reads one datagram within 5 s.
func readDatagram(t *testing.T, c net.PacketConn) (string, net.Addr) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, maxDatagram)
	n, addr, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n]), addr
}

// TestPacketEachDirectionDelayed: on real UDP sockets, a datagram takes at
// least the latency each way, and not much more.
func TestPacketEachDirectionDelayed(t *testing.T) {
	const latency = 60 * time.Millisecond
	const slack = 250 * time.Millisecond // a busy machine
	wrapped, peer := udpPair(t, latency)

	start := time.Now()
	if _, err := wrapped.WriteTo([]byte("ping"), peer.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > latency/2 {
		t.Errorf("WriteTo took %v; it should queue and return at once", d)
	}
	got, from := readDatagram(t, peer)
	if d := time.Since(start); got != "ping" || d < latency || d > latency+slack {
		t.Errorf("the peer read %q %v after it was written; want ping after %v to %v", got, d, latency, latency+slack)
	}

	start = time.Now()
	if _, err := peer.WriteTo([]byte("pong"), from); err != nil {
		t.Fatal(err)
	}
	got, from = readDatagram(t, wrapped)
	if d := time.Since(start); got != "pong" || d < latency || d > latency+slack {
		t.Errorf("the wrapped end read %q %v after it was written; want pong after %v to %v", got, d, latency, latency+slack)
	}
	if from.String() != peer.LocalAddr().String() {
		t.Errorf("the datagram came from %v, want %v", from, peer.LocalAddr())
	}
}

// TestPacketOrderAndCounts: datagrams keep their order each way, and the
// counts are exactly their payloads, each way.
func TestPacketOrderAndCounts(t *testing.T) {
	for _, latency := range []time.Duration{0, 20 * time.Millisecond} {
		t.Run(latency.String(), func(t *testing.T) {
			wrapped, peer := udpPair(t, latency)
			const n = 40
			var sent int64
			for i := range n {
				msg := fmt.Sprintf("datagram %d", i)
				sent += int64(len(msg))
				if _, err := wrapped.WriteTo([]byte(msg), peer.LocalAddr()); err != nil {
					t.Fatal(err)
				}
			}
			var from net.Addr
			for i := range n {
				var got string
				got, from = readDatagram(t, peer)
				if want := fmt.Sprintf("datagram %d", i); got != want {
					t.Fatalf("datagram %d: got %q, want %q", i, got, want)
				}
			}
			var back int64
			for i := range n {
				msg := fmt.Sprintf("reply number %d", i)
				back += int64(len(msg))
				if _, err := peer.WriteTo([]byte(msg), from); err != nil {
					t.Fatal(err)
				}
			}
			for i := range n {
				if got, _ := readDatagram(t, wrapped); got != fmt.Sprintf("reply number %d", i) {
					t.Fatalf("reply %d: got %q", i, got)
				}
			}
			if w, r := wrapped.BytesWritten(), wrapped.BytesRead(); w != sent || r != back {
				t.Errorf("bytes written/read: got %d/%d, want %d/%d", w, r, sent, back)
			}
			if w, r := wrapped.DatagramsWritten(), wrapped.DatagramsRead(); w != n || r != n {
				t.Errorf("datagrams written/read: got %d/%d, want %d/%d", w, r, n, n)
			}
		})
	}
}

// TestPacketReadDeadline: a read behind the link ends at its deadline with
// os.ErrDeadlineExceeded (which quic-go takes as temporary), and a
// deadline in the past wakes a read already waiting, as quic-go's
// Transport.Close does to stop its reader.
func TestPacketReadDeadline(t *testing.T) {
	wrapped, _ := udpPair(t, 30*time.Millisecond)
	start := time.Now()
	if err := wrapped.SetReadDeadline(start.Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, _, err := wrapped.ReadFrom(make([]byte, 10))
	if d := time.Since(start); !errors.Is(err, os.ErrDeadlineExceeded) || d < 50*time.Millisecond || d > time.Second {
		t.Errorf("read ended after %v with %v; want os.ErrDeadlineExceeded after 50ms", d, err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("the deadline's error %v is not a net.Error timeout", err)
	}

	if err := wrapped.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := wrapped.ReadFrom(make([]byte, 10))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the read start waiting; either way it must end
	if err := wrapped.SetReadDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("woken read: got %v, want os.ErrDeadlineExceeded", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a deadline in the past did not wake the read")
	}
}

// TestPacketCloseDeliversInFlight: Close lets a datagram in flight reach
// the peer before it closes the socket, and counts it; Abort drops it, and
// counts nothing that did not cross.
func TestPacketCloseDeliversInFlight(t *testing.T) {
	const latency = 50 * time.Millisecond
	wrapped, peer := udpPair(t, latency)
	closed := 0
	wrapped.onClose = func() { closed++ }
	if _, err := wrapped.WriteTo([]byte("last words"), peer.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := wrapped.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < latency/2 || d > latency+closeGrace+time.Second {
		t.Errorf("Close took %v; want about the latency, to let the datagram go", d)
	}
	if got, _ := readDatagram(t, peer); got != "last words" {
		t.Errorf("peer read %q, want last words", got)
	}
	if wrapped.BytesWritten() != int64(len("last words")) || wrapped.DatagramsWritten() != 1 {
		t.Errorf("counted %d bytes in %d datagrams, want %d in 1", wrapped.BytesWritten(), wrapped.DatagramsWritten(), len("last words"))
	}
	if _, err := wrapped.WriteTo([]byte("late"), peer.LocalAddr()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after Close: got %v, want net.ErrClosed", err)
	}
	if closed != 1 {
		t.Errorf("onClose called %d times, want 1", closed)
	}

	aborted, peer := udpPair(t, time.Second)
	if _, err := aborted.WriteTo([]byte("never"), peer.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	aborted.Abort()
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Abort took %v; it must not wait for the link", d)
	}
	if aborted.BytesWritten() != 0 {
		t.Errorf("Abort counted %d bytes that never crossed", aborted.BytesWritten())
	}
	if _, _, err := aborted.ReadFrom(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after Abort: got %v, want net.ErrClosed", err)
	}
}

// TestPacketLingers: a lingering socket, closed by its owner, still counts
// the datagrams that arrive (a peer's last acknowledgements), delivers
// none of them, and counts no more once drained; at every latency.
func TestPacketLingers(t *testing.T) {
	for _, latency := range []time.Duration{0, 30 * time.Millisecond} {
		t.Run(fmt.Sprint(latency), func(t *testing.T) {
			real, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			closed := 0
			c := WrapLingering(real, latency, func() { closed++ })
			peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			if _, err := c.WriteTo([]byte("bye"), peer.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			if got, _ := readDatagram(t, peer); got != "bye" {
				t.Fatalf("the peer read %q", got)
			}
			if err := c.Close(); err != nil || closed != 1 {
				t.Fatalf("Close: %v, onClose called %d times", err, closed)
			}
			if _, _, err := c.ReadFrom(make([]byte, 16)); !errors.Is(err, net.ErrClosed) {
				t.Errorf("ReadFrom after Close: %v, want net.ErrClosed", err)
			}
			// The peer's last word arrives after the owner is done.
			if _, err := peer.WriteTo([]byte("ack!"), real.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for c.BytesRead() < 4 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if err := c.Drain(); err != nil {
				t.Fatal(err)
			}
			if c.BytesRead() != 4 || c.DatagramsRead() != 1 || c.BytesWritten() != 3 {
				t.Errorf("counted %d bytes in %d datagrams in, %d out; want 4 in 1, and 3", c.BytesRead(), c.DatagramsRead(), c.BytesWritten())
			}
			if _, err := peer.WriteTo([]byte("late"), real.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond)
			if c.BytesRead() != 4 {
				t.Errorf("a drained socket counted %d bytes; want the 4 before it was drained", c.BytesRead())
			}
		})
	}
}

// shapedUDP returns a socket wrapped with cfg and a plain peer, both on
// 127.0.0.1. The test closes both.
func shapedUDP(t *testing.T, cfg PacketConfig) (wrapped *PacketConn, peer *net.UDPConn) {
	t.Helper()
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	wrapped = WrapPacketConn(listen(), cfg)
	peer = listen()
	t.Cleanup(func() {
		wrapped.Close()
		peer.Close()
	})
	return wrapped, peer
}

// TestPacketBandwidth: a datagram serialises whole, at the rate, behind the
// one before it in its direction, each way; the busy time is their sum.
func TestPacketBandwidth(t *testing.T) {
	p := Profile{Latency: 20 * time.Millisecond, Bandwidth: 256 * Kbit}
	wrapped, peer := shapedUDP(t, PacketConfig{Profile: p})
	big := make([]byte, 8000) // 250ms at 256 kbit
	start := time.Now()
	wrapped.WriteTo(big, peer.LocalAddr())
	wrapped.WriteTo([]byte("wait!"), peer.LocalAddr())
	got, from := readDatagram(t, peer)
	within(t, "an 8 KB datagram", time.Since(start), p.Bandwidth.TimeFor(8000)+p.Latency)
	if len(got) != len(big) {
		t.Fatalf("the peer read %d bytes first, want %d", len(got), len(big))
	}
	got, _ = readDatagram(t, peer)
	within(t, "a datagram behind it", time.Since(start), p.Bandwidth.TimeFor(8000)+p.Bandwidth.TimeFor(5)+p.Latency)
	if got != "wait!" {
		t.Errorf("the second datagram was %q", got)
	}

	start = time.Now()
	peer.WriteTo(big, from)
	got, _ = readDatagram(t, wrapped)
	within(t, "an 8 KB datagram in", time.Since(start), p.Bandwidth.TimeFor(8000)+p.Latency)
	if len(got) != len(big) {
		t.Errorf("read %d bytes, want %d", len(got), len(big))
	}
	if b, want := wrapped.BusyTime(Out), p.Bandwidth.TimeFor(8000)+p.Bandwidth.TimeFor(5); b != want {
		t.Errorf("busy out %v, want %v", b, want)
	}
	if b, want := wrapped.BusyTime(In), p.Bandwidth.TimeFor(8000); b != want {
		t.Errorf("busy in %v, want %v", b, want)
	}
	if n := len(wrapped.BusyIntervals()); n != 2 {
		t.Errorf("%d busy intervals, want 2: one out, back to back, and one in", n)
	}
}

// TestPacketJitterKeepsOrder: jitter delays datagrams but never reorders
// them, each way; one seed draws the same delays, the documented ones; and
// every datagram is counted where it crossed.
func TestPacketJitterKeepsOrder(t *testing.T) {
	const n = 60
	p := Profile{Latency: time.Millisecond, Bandwidth: 10 * Mbit, Jitter: 30 * time.Millisecond, Seed: 3}
	var mu sync.Mutex
	var drawn [2][]time.Duration
	wrapped, peer := shapedUDP(t, PacketConfig{Profile: p, Index: 2, drawn: func(d Direction, j time.Duration) {
		mu.Lock()
		drawn[d] = append(drawn[d], j)
		mu.Unlock()
	}})
	var sent int64
	for i := range n {
		msg := fmt.Sprintf("datagram %d", i)
		sent += int64(len(msg))
		wrapped.WriteTo([]byte(msg), peer.LocalAddr())
	}
	var from net.Addr
	for i := range n {
		var got string
		if got, from = readDatagram(t, peer); got != fmt.Sprintf("datagram %d", i) {
			t.Fatalf("datagram %d: got %q; jitter must not reorder", i, got)
		}
	}
	for i := range n {
		peer.WriteTo(fmt.Appendf(nil, "datagram %d", i), from)
	}
	for i := range n {
		if got, _ := readDatagram(t, wrapped); got != fmt.Sprintf("datagram %d", i) {
			t.Fatalf("datagram %d back: got %q; jitter must not reorder", i, got)
		}
	}
	if wrapped.BytesWritten() != sent || wrapped.BytesRead() != sent || wrapped.DatagramsWritten() != n || wrapped.DatagramsRead() != n {
		t.Errorf("counted %d/%d bytes in %d/%d datagrams; want %d in %d each way",
			wrapped.BytesWritten(), wrapped.BytesRead(), wrapped.DatagramsWritten(), wrapped.DatagramsRead(), sent, n)
	}
	mu.Lock()
	defer mu.Unlock()
	for d := range 2 {
		if want := documentedDraws(p.Seed, 1<<63|2<<1|uint64(d), p.Jitter, n); !slices.Equal(drawn[d], want) {
			t.Errorf("%v: drew %v, want %v as documented", Direction(d), drawn[d], want)
		}
	}
}
