package link

import (
	"io"
	"net"
	"testing"
	"time"
)

// benchBlock is how many writes one link makes before the other's turn, as
// in internal/roundtrip: long enough that the switch costs nothing
// measurable, short enough that both see the same moods of a busy machine.
const benchBlock = 256

// benchWrite is the size of each write: a line of the script, framed.
const benchWrite = 64

// benchLine is a wrapped connection on a real socket, and its peer.
type benchLine struct {
	client Counted
	server net.Conn
	buf    []byte
}

func newBenchLine(tb testing.TB, p Profile) *benchLine {
	tb.Helper()
	c, s := shaped(tb, ConnConfig{Profile: p})
	return &benchLine{client: c, server: s, buf: make([]byte, benchBlock*benchWrite)}
}

// carry writes n lines on the link, and returns once the peer has read
// them all.
func (l *benchLine) carry(n int) (time.Duration, error) {
	msg := make([]byte, benchWrite)
	start := time.Now()
	for range n {
		if _, err := l.client.Write(msg); err != nil {
			return 0, err
		}
	}
	_, err := io.ReadFull(l.server, l.buf[:n*benchWrite])
	return time.Since(start), err
}

// BenchmarkWrite times the link's own work per write, behind a bandwidth
// and without: 64-byte writes queued, carried by the pump to a real socket
// and read by the peer, on the plain link (a latency of 1µs, so that both
// run the same pumps) and on the same link with a bandwidth of MaxRate
// (64 bytes take 51ns: the rate never holds a write back, so what is
// timed is the link's bookkeeping). They take turns in blocks, the first
// to go changing from one block to the next, so that a busy machine slows
// both alike. It reports each one's time per write (plain-ns/op,
// bandwidth-ns/op) and bandwidth's over plain's (ratio).
func BenchmarkWrite(b *testing.B) {
	lines := [2]*benchLine{
		newBenchLine(b, Profile{Latency: time.Microsecond}),
		newBenchLine(b, Profile{Latency: time.Microsecond, Bandwidth: MaxRate}),
	}
	var spent [2]time.Duration
	b.ResetTimer()
	for i, done := 0, 0; done < b.N; i, done = i+1, done+benchBlock {
		n := min(benchBlock, b.N-done)
		for turn := range 2 {
			k := (turn + i) % 2
			d, err := lines[k].carry(n)
			if err != nil {
				b.Fatal(err)
			}
			spent[k] += d
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(spent[0].Nanoseconds())/float64(b.N), "plain-ns/op")
	b.ReportMetric(float64(spent[1].Nanoseconds())/float64(b.N), "bandwidth-ns/op")
	b.ReportMetric(float64(spent[1])/float64(spent[0]), "ratio")
}

// TestBenchLine carries a few blocks on the benchmark's lines, where
// benchmarks are not run.
func TestBenchLine(t *testing.T) {
	for _, p := range []Profile{{Latency: time.Microsecond}, {Latency: time.Microsecond, Bandwidth: MaxRate}} {
		l := newBenchLine(t, p)
		for range 3 {
			if _, err := l.carry(benchBlock); err != nil {
				t.Fatal(err)
			}
		}
	}
}
