package link

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/duplexdemo/duplexdemo/internal/pipenet"
)

// slack is how late, at most, a delivery may be on a real socket: the
// link's pump and the peer's reader each wake after their timer (Linux's
// timers are good to well under a millisecond) once a CPU is free for them.
// Beside six programs keeping two CPUs busy, under the race detector, most
// deliveries came less than 20ms late, and one in sixty 250ms. Lateness
// never adds up over segments or writes, as each is due at a time fixed
// when it was written; so the messages here take at least 800ms at their
// rate, and the bounds tell a link that serialises twice, or not at all.
const slack = 500 * time.Millisecond

// photo is the size of the big write the tests send: 800ms at 1 Mbit.
const photo = 100_000

// shaped returns a client end wrapped with cfg (its Meter, if nil, a new
// one) and the plain server end of a real TCP connection on 127.0.0.1.
// The test closes both.
func shaped(t testing.TB, cfg ConnConfig) (client Counted, server net.Conn) {
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
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("no connection accepted")
	}
	if cfg.Meter == nil {
		cfg.Meter = new(Meter)
	}
	client = WrapConn(c, cfg)
	t.Cleanup(func() {
		client.Close()
		s.Close()
	})
	return client, s
}

// within checks that took is from want to want+slack.
func within(t *testing.T, what string, took, want time.Duration) {
	t.Helper()
	if took < want || took > want+slack {
		t.Errorf("%s took %v; want %v (N·8/R + latency), and at most %v more", what, took, want, slack)
	}
	t.Logf("%s: %v late", what, took-want)
}

// readAt reads n bytes from c, and returns them and when the last came.
func readAt(t *testing.T, c net.Conn, n int) ([]byte, time.Time) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	return buf, time.Now()
}

// TestBandwidthFormula: on real sockets, a message of N bytes at rate R
// crosses in N·8/R plus the latency, each way.
func TestBandwidthFormula(t *testing.T) {
	const n = photo
	p := Profile{Latency: 30 * time.Millisecond, Bandwidth: Mbit}
	client, server := shaped(t, ConnConfig{Profile: p})
	want := p.Bandwidth.TimeFor(n) + p.Latency
	msg := bytes.Repeat([]byte("photo"), n/5)

	start := time.Now()
	if _, err := client.Write(msg); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > slack {
		t.Errorf("Write took %v; it should queue and return at once", d)
	}
	got, at := readAt(t, server, n)
	within(t, "100 KB out at 1 Mbit", at.Sub(start), want)
	if !bytes.Equal(got, msg) {
		t.Error("the peer read other bytes than were written")
	}

	start = time.Now()
	if _, err := server.Write(msg); err != nil {
		t.Fatal(err)
	}
	got, at = readAt(t, client, n)
	within(t, "100 KB in at 1 Mbit", at.Sub(start), want)
	if !bytes.Equal(got, msg) {
		t.Error("the wrapped end read other bytes than the peer wrote")
	}
	if client.BytesWritten() != n || client.BytesRead() != n {
		t.Errorf("counted %d out, %d in; want %d each way", client.BytesWritten(), client.BytesRead(), n)
	}
}

// TestBigWriteArrivesLittleByLittle: behind a bandwidth, the first segment
// of a big write is readable long before its last byte has crossed.
func TestBigWriteArrivesLittleByLittle(t *testing.T) {
	p := Profile{Latency: 10 * time.Millisecond, Bandwidth: Mbit}
	client, server := shaped(t, ConnConfig{Profile: p})
	start := time.Now()
	if _, err := client.Write(make([]byte, photo)); err != nil {
		t.Fatal(err)
	}
	_, first := readAt(t, server, segment)
	within(t, "the first segment", first.Sub(start), p.Bandwidth.TimeFor(segment)+p.Latency)
	_, last := readAt(t, server, photo-segment)
	within(t, "the whole write", last.Sub(start), p.Bandwidth.TimeFor(photo)+p.Latency)
}

// TestDirectionsIndependent: a big write one way does not hold up a small
// one the other way.
func TestDirectionsIndependent(t *testing.T) {
	p := Profile{Latency: 30 * time.Millisecond, Bandwidth: Mbit}
	client, server := shaped(t, ConnConfig{Profile: p})
	big := make([]byte, photo)
	start := time.Now()
	if _, err := client.Write(big); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	if _, err := server.Write([]byte("a line the other way")); err != nil {
		t.Fatal(err)
	}
	_, at := readAt(t, client, 20)
	within(t, "a line against a photo", at.Sub(back), p.Bandwidth.TimeFor(20)+p.Latency)
	_, at = readAt(t, server, len(big))
	within(t, "the photo", at.Sub(start), p.Bandwidth.TimeFor(int64(len(big)))+p.Latency)
}

// TestHeadOfLine: a small write behind a big one in the same direction
// waits for all of it to go onto the link first.
func TestHeadOfLine(t *testing.T) {
	p := Profile{Latency: 30 * time.Millisecond, Bandwidth: Mbit}
	client, server := shaped(t, ConnConfig{Profile: p})
	big := make([]byte, photo)
	start := time.Now()
	client.Write(big)
	client.Write([]byte("wait, grandma!"))
	got, at := readAt(t, server, len(big)+14)
	if string(got[len(big):]) != "wait, grandma!" {
		t.Fatalf("the line came in as %q", got[len(big):])
	}
	within(t, "a line behind a photo", at.Sub(start), p.Bandwidth.TimeFor(int64(len(big)))+p.Bandwidth.TimeFor(14)+p.Latency)
}

// TestConnectionsShareTheLink: the connections of one Meter share its
// line, as a home's do: a line on a second connection queues behind a
// photo on the first, in the same direction.
func TestConnectionsShareTheLink(t *testing.T) {
	p := Profile{Latency: 30 * time.Millisecond, Bandwidth: Mbit}
	m := new(Meter)
	first, _ := shaped(t, ConnConfig{Profile: p, Meter: m})
	second, server := shaped(t, ConnConfig{Profile: p, Meter: m})
	start := time.Now()
	first.Write(make([]byte, photo))
	second.Write([]byte("wait, grandma!"))
	_, at := readAt(t, server, 14)
	within(t, "a line on a second connection behind a photo", at.Sub(start), p.Bandwidth.TimeFor(photo)+p.Bandwidth.TimeFor(14)+p.Latency)
	if got, want := m.BusyTime(Out), p.Bandwidth.TimeFor(photo)+p.Bandwidth.TimeFor(14); got != want {
		t.Errorf("the link was busy %v, want %v", got, want)
	}
	if first.BusyTime(Out)+second.BusyTime(Out) != m.BusyTime(Out) {
		t.Errorf("the connections' busy times %v + %v are not the link's %v", first.BusyTime(Out), second.BusyTime(Out), m.BusyTime(Out))
	}
}

// TestBusyTime: back-to-back writes keep the link busy for the sum of their
// N·8/R, exactly, in the connection and in its Meter; the other direction
// stays idle; the intervals cover the busy time, no more.
func TestBusyTime(t *testing.T) {
	p := Profile{Latency: 5 * time.Millisecond, Bandwidth: 2 * Mbit}
	m := new(Meter)
	client, server := shaped(t, ConnConfig{Profile: p, Meter: m})
	var want time.Duration
	var total int
	for _, n := range []int{10_000, 2_000, 30_000, 1, 7} {
		client.Write(make([]byte, n))
		want += p.Bandwidth.TimeFor(int64(n))
		total += n
	}
	readAt(t, server, total)
	if got := client.BusyTime(Out); got != want {
		t.Errorf("busy out: got %v, want %v", got, want)
	}
	if got := m.BusyTime(Out); got != want {
		t.Errorf("the Meter's busy out: got %v, want %v", got, want)
	}
	if client.BusyTime(In) != 0 || m.BusyTime(In) != 0 {
		t.Errorf("busy in: %v, %v; want 0, nothing came in", client.BusyTime(In), m.BusyTime(In))
	}
	// Once the link is idle again, another write is another interval.
	client.Write(make([]byte, 1000))
	readAt(t, server, 1000)
	want += p.Bandwidth.TimeFor(1000)
	spans := client.BusyIntervals()
	if len(spans) < 2 || len(spans) > 6 {
		t.Errorf("got %d intervals; want from 2 (back-to-back writes merged) to 6", len(spans))
	}
	var covered time.Duration
	for i, s := range spans {
		covered += s.End.Sub(s.Start)
		if s.Dir != Out || (i > 0 && !s.Start.After(spans[i-1].End)) {
			t.Errorf("interval %d: %+v; want out, after the one before", i, s)
		}
	}
	if covered != want || client.BusyTime(Out) != want {
		t.Errorf("the intervals cover %v, the busy time is %v; want %v", covered, client.BusyTime(Out), want)
	}
	if !slices.Equal(m.BusyIntervals(), spans) {
		t.Errorf("the Meter's intervals differ from its only connection's")
	}

	// The other way: what the peer writes is busy time in.
	server.Write(make([]byte, 20_000))
	readAt(t, client, 20_000)
	if got, min := client.BusyTime(In), p.Bandwidth.TimeFor(20_000); got < min || got > min+time.Microsecond {
		t.Errorf("busy in: got %v, want %v (and a nanosecond for each read it came in)", got, min)
	}
}

// TestBusyLogBounded: touching intervals merge; beyond MaxIntervals the
// nearest neighbours merge, and the busy time stays exact.
func TestBusyLogBounded(t *testing.T) {
	var b busyLog
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	b.add(Out, at(0), at(10))
	b.add(Out, at(10), at(15)) // touches: one interval
	b.add(Out, at(20), at(20)) // empty: nothing
	if len(b.spans) != 1 || b.total != 15*time.Millisecond || !b.spans[0].End.Equal(at(15)) {
		t.Fatalf("got %+v, total %v; want one interval of 15ms", b.spans, b.total)
	}
	var want time.Duration = 15 * time.Millisecond
	ms := 15
	for i := range 5 * MaxIntervals {
		gap := 1 + i%7 // various gaps, so that the smallest go first
		b.add(Out, at(ms+gap), at(ms+gap+2))
		ms += gap + 2
		want += 2 * time.Millisecond
		if len(b.spans) > MaxIntervals {
			t.Fatalf("kept %d intervals, more than %d", len(b.spans), MaxIntervals)
		}
	}
	if b.total != want {
		t.Errorf("busy time %v, want %v", b.total, want)
	}
	if !b.spans[0].Start.Equal(at(0)) || !b.spans[len(b.spans)-1].End.Equal(at(ms)) {
		t.Errorf("the intervals run from %v to %v; want all of it", b.spans[0].Start.Sub(t0), b.spans[len(b.spans)-1].End.Sub(t0))
	}
	for i := 1; i < len(b.spans); i++ {
		if !b.spans[i].Start.After(b.spans[i-1].End) {
			t.Fatalf("intervals %d and %d overlap or touch", i-1, i)
		}
	}
}

// pingPong plays rounds of a numbered ping and its pong on a real
// connection, with cfg's profile, and returns the jitters drawn each way
// and each round's time.
func pingPong(t *testing.T, cfg ConnConfig, rounds int) (drawn [2][]time.Duration, rtts []time.Duration) {
	t.Helper()
	var mu sync.Mutex // the two pumps draw
	cfg.drawn = func(d Direction, j time.Duration) {
		mu.Lock()
		drawn[d] = append(drawn[d], j)
		mu.Unlock()
	}
	client, server := shaped(t, cfg)
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 8)
		for range rounds {
			if _, err := io.ReadFull(server, buf); err != nil {
				done <- err
				return
			}
			if _, err := server.Write(buf); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := range rounds {
		start := time.Now()
		client.Write(binary.BigEndian.AppendUint64(nil, uint64(i)))
		got, at := readAt(t, client, 8)
		if binary.BigEndian.Uint64(got) != uint64(i) {
			t.Fatalf("round %d: the pong was %x", i, got)
		}
		rtts = append(rtts, at.Sub(start))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return drawn, rtts
}

// documentedDraws returns the first n jitters of a stream as Profile's
// comment says they are drawn.
func documentedDraws(seed, stream uint64, jitter time.Duration, n int) []time.Duration {
	src := rand.NewPCG(seed, stream)
	var out []time.Duration
	for range n {
		out = append(out, time.Duration(src.Uint64()%uint64(jitter+1)))
	}
	return out
}

// TestJitterReplays: with one seed, a run draws the same delays each way,
// exactly, the ones Profile documents, and the rounds take them; another
// seed draws others.
func TestJitterReplays(t *testing.T) {
	const rounds = 12
	p := Profile{Latency: 5 * time.Millisecond, Jitter: 20 * time.Millisecond, Seed: 7}
	drawn, rtts := pingPong(t, ConnConfig{Profile: p}, rounds)
	again, _ := pingPong(t, ConnConfig{Profile: p}, rounds)
	for d := range 2 {
		if len(drawn[d]) != rounds {
			t.Fatalf("%v: drew %d jitters for %d rounds", Direction(d), len(drawn[d]), rounds)
		}
		if !slices.Equal(drawn[d], again[d]) {
			t.Errorf("%v: the same seed drew %v, then %v", Direction(d), drawn[d], again[d])
		}
		if want := documentedDraws(p.Seed, uint64(d), p.Jitter, rounds); !slices.Equal(drawn[d], want) {
			t.Errorf("%v: drew %v, want %v as documented", Direction(d), drawn[d], want)
		}
		for _, j := range drawn[d] {
			if j < 0 || j > p.Jitter {
				t.Errorf("%v: drew %v, outside 0..%v", Direction(d), j, p.Jitter)
			}
		}
	}
	for i, rtt := range rtts {
		if want := 2*p.Latency + drawn[Out][i] + drawn[In][i]; rtt < want || rtt > want+2*slack {
			t.Errorf("round %d took %v; want its latencies and jitters, %v, and at most %v more", i, rtt, want, 2*slack)
		}
	}
	p.Seed = 8
	other, _ := pingPong(t, ConnConfig{Profile: p}, rounds)
	if slices.Equal(drawn[Out], other[Out]) || slices.Equal(drawn[In], other[In]) {
		t.Errorf("seeds 7 and 8 drew the same jitters: %v", other)
	}
}

// TestStreamKeepsOrderUnderJitter: however the jitters fall, a byte stream
// arrives in the order it was written, each way, and every byte is
// counted where it crossed.
func TestStreamKeepsOrderUnderJitter(t *testing.T) {
	const writes = 300
	p := Profile{Latency: time.Millisecond, Bandwidth: 10 * Mbit, Jitter: 30 * time.Millisecond, Seed: 1}
	m := new(Meter)
	client, server := shaped(t, ConnConfig{Profile: p, Meter: m})
	var want bytes.Buffer
	for i := range writes {
		msg := fmt.Appendf(nil, "%d,", i)
		want.Write(msg)
		if _, err := client.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := readAt(t, server, want.Len()); !bytes.Equal(got, want.Bytes()) {
		t.Errorf("the peer read %.80q...; want the writes in order", got)
	}
	go func() {
		for i := range writes {
			server.Write(fmt.Appendf(nil, "%d,", i))
			if i%50 == 0 {
				time.Sleep(time.Millisecond) // let some come off in reads of their own
			}
		}
	}()
	if got, _ := readAt(t, client, want.Len()); !bytes.Equal(got, want.Bytes()) {
		t.Errorf("the wrapped end read %.80q...; want the peer's writes in order", got)
	}
	n := int64(want.Len())
	if client.BytesWritten() != n || client.BytesRead() != n || m.Written() != n || m.Read() != n {
		t.Errorf("counted %d/%d (Meter %d/%d), want %d each way", client.BytesWritten(), client.BytesRead(), m.Written(), m.Read(), n)
	}
}

// TestTapUnderBandwidth: behind a bandwidth, the tap still sees exactly
// what BytesRead counts, as it comes off the real connection.
func TestTapUnderBandwidth(t *testing.T) {
	var mu sync.Mutex
	var tap bytes.Buffer
	p := Profile{Latency: 10 * time.Millisecond, Bandwidth: Mbit, Jitter: 5 * time.Millisecond}
	client, server := shaped(t, ConnConfig{Profile: p, Tap: writerFunc(func(b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return tap.Write(b)
	})})
	msg := bytes.Repeat([]byte("0123456789"), 2000)
	server.Write(msg)
	readAt(t, client, len(msg))
	mu.Lock()
	defer mu.Unlock()
	if !bytes.Equal(tap.Bytes(), msg) || client.BytesRead() != int64(len(msg)) {
		t.Errorf("the tap had %d bytes, BytesRead %d; want the %d that came", tap.Len(), client.BytesRead(), len(msg))
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestBandwidthExact: on the fake clock, each segment and each write is
// readable exactly when the formula says, each way, and a line behind a
// big write waits for it while the other direction does not.
func TestBandwidthExact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := pipenet.Listen()
		defer l.Close()
		accepted := make(chan net.Conn, 1)
		go func() {
			c, _ := l.Accept()
			accepted <- c
		}()
		d := &Dialer{Latency: latency, Bandwidth: Mbit, Meter: new(Meter), Dial: l.DialContext}
		client, err := d.DialContext(context.Background(), "pipe", "pipe")
		if err != nil {
			t.Fatal(err)
		}
		server := <-accepted
		defer client.Close()
		defer server.Close()
		r := d.Bandwidth
		start := time.Now()
		client.Write(make([]byte, 3000))
		client.Write([]byte("line"))
		go server.Write([]byte("back")) // the other way, at the same time
		readFull(t, client, 4)
		if got, want := time.Since(start), r.TimeFor(4)+latency; got != want {
			t.Errorf("the line back came after %v, want %v", got, want)
		}
		readFull(t, server, segment)
		if got, want := time.Since(start), r.TimeFor(segment)+latency; got != want {
			t.Errorf("the first segment came after %v, want %v", got, want)
		}
		readFull(t, server, 3000-segment)
		if got, want := time.Since(start), r.TimeFor(3000)+latency; got != want {
			t.Errorf("the big write came after %v, want %v", got, want)
		}
		readFull(t, server, 4)
		if got, want := time.Since(start), r.TimeFor(3000)+r.TimeFor(4)+latency; got != want {
			t.Errorf("the line behind it came after %v, want %v", got, want)
		}
	})
}

// TestNothingChangesWithoutBandwidthOrJitter: a profile with only a
// latency is the link as it was: the same connection type, and the same
// times on the fake clock.
func TestNothingChangesWithoutBandwidthOrJitter(t *testing.T) {
	c1, c2 := net.Pipe()
	defer c2.Close()
	if _, ok := WrapConn(c1, ConnConfig{Profile: Profile{Seed: 99}, Meter: new(Meter)}).(*countingConn); !ok {
		t.Error("a profile with only a seed does not count bytes plainly")
	}
	c1.Close()
	synctest.Test(t, func(t *testing.T) {
		client, server := pair(t, latency, new(Meter))
		defer client.Close()
		defer server.Close()
		start := time.Now()
		client.Write(make([]byte, 100_000))
		readFull(t, server, 100_000)
		if d := time.Since(start); d != latency {
			t.Errorf("100 KB took %v, want the latency alone, %v", d, latency)
		}
		if b := client.(Counted).BusyTime(Out); b != 0 {
			t.Errorf("busy %v without a bandwidth", b)
		}
	})
}

// TestEndOfStreamBehindBandwidth: a half-close, and a close, come after the
// bytes queued before them have crossed, never before.
func TestEndOfStreamBehindBandwidth(t *testing.T) {
	p := Profile{Latency: 30 * time.Millisecond, Bandwidth: Mbit, Jitter: 10 * time.Millisecond}
	want := p.Bandwidth.TimeFor(10_000) + p.Latency
	client, server := shaped(t, ConnConfig{Profile: p})
	start := time.Now()
	client.Write(make([]byte, 10_000))
	if err := client.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	all, err := io.ReadAll(server)
	if err != nil || len(all) != 10_000 {
		t.Fatalf("the peer read %d bytes, %v; want 10000, then the end", len(all), err)
	}
	within(t, "the end of stream", time.Since(start), want)

	client, server = shaped(t, ConnConfig{Profile: p})
	start = time.Now()
	client.Write(make([]byte, 10_000))
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < want {
		t.Errorf("Close returned after %v, before the bytes in flight could cross (%v)", took, want)
	}
	if all, err := io.ReadAll(server); err != nil || len(all) != 10_000 {
		t.Errorf("after Close, the peer read %d bytes, %v; want 10000, then the end", len(all), err)
	}
}
