package link

import (
	"fmt"
	"math/big"
	"math/bits"
	"math/rand/v2"
	"regexp"
	"strings"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/story"
)

// Profile is what the emulated link is like, the same in each direction.
// Its zero value is a plain loopback: no delay, no limit, no jitter.
//
// A piece of bytes put on the link at t (a Write of the wrapped end, a read
// off the real connection of what the peer wrote, or a datagram) starts
// serialising at s, the later of t and the moment its direction finished
// the bytes before it, and occupies that direction until e = s + N·8/R
// (Rate.TimeFor). Its bytes arrive a segment at a time, each at the time
// its last byte was serialised plus the latency plus the piece's jitter:
// the whole piece is deliverable at e + Latency + jitter. Without a
// bandwidth, s = e = t. A byte stream keeps its order, as TCP does: a
// piece is never deliverable before the one written before it, however
// small its jitter; and so do datagrams, whose jitter delays them without
// ever reordering them (see PacketConn).
//
// Jitter is drawn from a source of its own for each direction of each
// connection: a PCG (math/rand/v2) made by NewPCG(Seed, stream), where
// stream is index<<1 for the outgoing direction and index<<1|1 for the
// incoming one, index being the connection's place among its Meter's
// connections (0 for the first wrapped); for a datagram socket, the same
// with its PacketConfig.Index and the top bit set (1<<63|index<<1|dir).
// Each draw is the source's next Uint64 modulo Jitter+1, in nanoseconds. A direction draws once per piece, in the order
// its pieces are put on the link: once per Write on the way out, once per
// read off the real connection (one per datagram) on the way in; a
// CloseWrite draws nothing. So one seed and the same writes replay the same
// delays, whatever the other connections do at the same time.
type Profile struct {
	// Latency is the one-way delay added in each direction; 0 means none.
	Latency time.Duration
	// Bandwidth is the rate at which bytes serialise onto the link, in
	// each direction independently; 0 means unlimited. It applies to the
	// bytes the link counts (payloads, without TCP/IP or UDP headers).
	Bandwidth Rate
	// Jitter is the most extra delay a piece takes, drawn uniformly from 0
	// to Jitter, to the nanosecond; 0 means none.
	Jitter time.Duration
	// Seed seeds the jitter's draws: see Profile.
	Seed uint64
}

// plain reports whether the link only counts: no delay, limit or jitter.
func (p Profile) plain() bool { return p.Latency <= 0 && p.Bandwidth <= 0 && p.Jitter <= 0 }

// segment is how many bytes of a piece become deliverable at once behind a
// bandwidth, as a TCP segment's payload on Ethernet: a big write arrives
// little by little, as it would, not all at its end.
const segment = 1460

// source returns the jitter's source for direction d of the connection
// whose stream numbers start at base, or nil without jitter.
func (p Profile) source(base uint64, d Direction) *rand.PCG {
	if p.Jitter <= 0 {
		return nil
	}
	return rand.NewPCG(p.Seed, base|uint64(d))
}

// draw returns src's next jitter, from 0 to max inclusive.
func draw(src *rand.PCG, max time.Duration) time.Duration {
	return time.Duration(src.Uint64() % (uint64(max) + 1))
}

// Rate is a link's bandwidth in bits per second; 0 means unlimited.
type Rate int64

// Rates as the command line writes them: decimal, in bits.
const (
	Bit  Rate = 1
	Kbit      = 1000 * Bit
	Mbit      = 1000 * Kbit
	Gbit      = 1000 * Mbit
)

// Bounds on a rate from the command line: slower would take minutes for a
// line of text, faster is no limit on loopback.
const (
	MinRate = 1 * Kbit
	MaxRate = 10 * Gbit
)

// TimeFor returns how long n bytes occupy a direction of a link of rate r:
// n·8/r, rounded up to the nanosecond; 0 when r is unlimited.
func (r Rate) TimeFor(n int64) time.Duration {
	if r <= 0 || n <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(n), 8*uint64(time.Second))
	if hi >= uint64(r) {
		return time.Duration(1<<63 - 1) // longer than anything can wait
	}
	q, rem := bits.Div64(hi, lo, uint64(r))
	if rem != 0 {
		q++
	}
	return time.Duration(q)
}

// bytesIn returns how many whole bytes a link of rate r serialises in d.
func (r Rate) bytesIn(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(d), uint64(r))
	if hi >= 8*uint64(time.Second) {
		return 1<<63 - 1
	}
	q, _ := bits.Div64(hi, lo, 8*uint64(time.Second))
	return int64(min(q, 1<<63-1))
}

// String returns r as ParseRate reads it, in the largest unit that keeps a
// number of at least 1: "1Mbit", "1.5Mbit", "256kbit"; "unlimited" for 0.
func (r Rate) String() string {
	if r <= 0 {
		return "unlimited"
	}
	return decimal(int64(r), []unit{{"Gbit", int64(Gbit)}, {"Mbit", int64(Mbit)}, {"kbit", int64(Kbit)}, {"bit", 1}})
}

// Size is a number of bytes, as the command line writes it.
type Size int64

// Sizes as the command line writes them: decimal, so 1KB is 1000 bytes.
const (
	Byte Size = 1
	KB        = 1000 * Byte
	MB        = 1000 * KB
)

// MaxSize bounds a size from the command line: 20 MB take 16 s at 10 Mbit,
// and more than a minute and a half at 1 Mbit.
const MaxSize = 20 * MB

// String returns s as ParseSize reads it, in the largest unit that keeps a
// number of at least 1: "200KB", "1.5MB", "512B".
func (s Size) String() string {
	if s <= 0 {
		return "0B"
	}
	return decimal(int64(s), []unit{{"MB", int64(MB)}, {"KB", int64(KB)}, {"B", 1}})
}

type unit struct {
	name string
	size int64
}

// decimal writes v in the first of units it is at least one of, with as
// many decimals as it takes to be exact.
func decimal(v int64, units []unit) string {
	u := units[len(units)-1]
	for _, c := range units {
		if v >= c.size {
			u = c
			break
		}
	}
	whole, frac := v/u.size, v%u.size
	if frac == 0 {
		return fmt.Sprintf("%d%s", whole, u.name)
	}
	digits := len(fmt.Sprint(u.size)) - 1
	return fmt.Sprintf("%d.%s%s", whole, strings.TrimRight(fmt.Sprintf("%0*d", digits, frac), "0"), u.name)
}

// quantity is a number and the unit written after it.
var quantity = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z/]*)$`)

// rateUnits are the units ParseRate reads, lower-cased: bits per second
// with a decimal prefix, as "Mbit", "Mbit/s" or "Mbps".
var rateUnits = map[string]Rate{
	"bit": Bit, "bit/s": Bit, "bps": Bit,
	"kbit": Kbit, "kbit/s": Kbit, "kbps": Kbit,
	"mbit": Mbit, "mbit/s": Mbit, "mbps": Mbit,
	"gbit": Gbit, "gbit/s": Gbit, "gbps": Gbit,
}

// ParseRate reads a bandwidth as --bandwidth takes it: a number and a unit
// of bits per second with a decimal prefix ("1Mbit", "256kbit", "1.5Mbit",
// "1Gbit"; "Mbit/s" and "Mbps" too), from MinRate to MaxRate; or "0" or
// "unlimited" for no limit. A wrong one is a *story.OptionError for
// "bandwidth" that says what would be right.
func ParseRate(s string) (Rate, error) {
	wrong := func(want string) (Rate, error) {
		return 0, &story.OptionError{Option: "bandwidth", Value: s, Want: want}
	}
	t := strings.TrimSpace(s)
	if t == "0" || strings.EqualFold(t, "unlimited") {
		return 0, nil
	}
	m := quantity.FindStringSubmatch(t)
	if m == nil {
		return wrong("want a number and a unit of bits per second, such as 1Mbit or 256kbit")
	}
	name := m[2]
	u, ok := rateUnits[strings.ToLower(name)]
	switch {
	case ok:
	case name == "":
		return wrong("give a unit: 1Mbit or 256kbit (bits per second)")
	case strings.Contains(name, "B") || strings.Contains(strings.ToLower(name), "byte"):
		return wrong("a bandwidth is in bits per second, not bytes: 1MB/s is 8Mbit")
	case strings.HasSuffix(strings.ToLower(name), "b"):
		return wrong(fmt.Sprintf("write the unit as %sit, bits per second, so that it cannot be read as bytes", name))
	default:
		return wrong("the unit must be bit, kbit, Mbit or Gbit (per second, decimal), such as 1Mbit")
	}
	v, ok := scale(m[1], int64(u))
	if !ok {
		return wrong("must be a whole number of bits per second, such as 1.5Mbit")
	}
	if v < int64(MinRate) || v > int64(MaxRate) {
		return wrong(fmt.Sprintf("must be from %v to %v, or 0 for unlimited", MinRate, MaxRate))
	}
	return Rate(v), nil
}

// sizeUnits are the units ParseSize reads: bytes, with a decimal prefix.
var sizeUnits = map[string]Size{"B": Byte, "KB": KB, "kB": KB, "MB": MB}

// ParseSize reads a size as --photo takes it: a number and a unit of bytes
// with a decimal prefix, so 1KB is 1000 bytes and 1MB a million ("512B",
// "200KB", "1.5MB"), up to MaxSize; or "0" for none. A wrong one is a
// *story.OptionError for "photo" (a caller reading another option sets
// Option to its name) that says what would be right.
func ParseSize(s string) (Size, error) {
	wrong := func(want string) (Size, error) {
		return 0, &story.OptionError{Option: "photo", Value: s, Want: want}
	}
	t := strings.TrimSpace(s)
	if t == "0" {
		return 0, nil
	}
	m := quantity.FindStringSubmatch(t)
	if m == nil {
		return wrong("want a number and a unit of bytes, such as 200KB or 1MB")
	}
	name := m[2]
	u, ok := sizeUnits[name]
	lower := strings.ToLower(name)
	switch {
	case ok:
	case name == "":
		return wrong("give a unit: 512B, 200KB or 1MB (bytes)")
	case strings.HasSuffix(lower, "ib"):
		return wrong("sizes are decimal: write KB (1000 bytes) or MB (a million bytes), such as 200KB")
	case strings.Contains(lower, "bit") || strings.HasSuffix(name, "b"):
		return wrong("a size is in bytes, written B: such as 200KB or 1MB")
	default:
		return wrong("the unit must be B, KB or MB (decimal: 1KB is 1000 bytes), such as 200KB")
	}
	v, ok := scale(m[1], int64(u))
	if !ok {
		return wrong("must be a whole number of bytes, such as 1.5KB or 1500B")
	}
	if v < 1 || v > int64(MaxSize) {
		return wrong(fmt.Sprintf("must be from 1B to %v, or 0 for none", MaxSize))
	}
	return Size(v), nil
}

// scale returns the decimal number times u, if it is a whole number that
// fits in an int64.
func scale(number string, u int64) (int64, bool) {
	r, ok := new(big.Rat).SetString(number)
	if !ok {
		return 0, false
	}
	r.Mul(r, new(big.Rat).SetInt64(u))
	if !r.IsInt() || !r.Num().IsInt64() {
		return 0, false
	}
	return r.Num().Int64(), true
}
