package link

import (
	"errors"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/story"
)

func TestParseRate(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Rate
	}{
		{"1Mbit", Mbit}, {"256kbit", 256 * Kbit}, {"10Mbit", 10 * Mbit}, {"1.5Mbit", 1500 * Kbit},
		{"800kbit", 800 * Kbit}, {"1Gbit", Gbit}, {"10Gbit", MaxRate}, {"1kbit", MinRate},
		{"2Mbit/s", 2 * Mbit}, {"2Mbps", 2 * Mbit}, {"64Kbit", 64 * Kbit}, {"1500bit", 1500},
		{"0", 0}, {"unlimited", 0}, {" 1 Mbit ", Mbit},
	} {
		got, err := ParseRate(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", c.in, int64(got), err, int64(c.want))
		}
	}
	for _, in := range []string{
		"", "fast", "1", "1MB", "1MB/s", "1Mb", "1kb", "1Tbit", "20Gbit", "999bit",
		"0.5kbit", "1.0005kbit", "-1Mbit", "1e6bit", "1 Mbit Mbit",
	} {
		_, err := ParseRate(in)
		var oe *story.OptionError
		if !errors.As(err, &oe) || oe.Option != "bandwidth" || oe.Value != in || oe.Want == "" {
			t.Errorf("ParseRate(%q): got %v, want an OptionError for bandwidth", in, err)
			continue
		}
		t.Logf("ParseRate(%q): %v", in, err)
	}
}

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Size
	}{
		{"200KB", 200 * KB}, {"1MB", MB}, {"512B", 512}, {"1.5MB", 1500 * KB}, {"200kB", 200 * KB},
		{"20MB", MaxSize}, {"1B", 1}, {"0", 0},
	} {
		got, err := ParseSize(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{
		"", "big", "200", "200kb", "200KiB", "1MiB", "1Mbit", "21MB", "1GB", "0.5B", "-1KB", "0B",
	} {
		_, err := ParseSize(in)
		var oe *story.OptionError
		if !errors.As(err, &oe) || oe.Option != "photo" || oe.Value != in || oe.Want == "" {
			t.Errorf("ParseSize(%q): got %v, want an OptionError for photo", in, err)
			continue
		}
		t.Logf("ParseSize(%q): %v", in, err)
	}
}

// TestFormatRoundTrips: String writes what Parse reads back, and reads as
// the command line is written.
func TestFormatRoundTrips(t *testing.T) {
	for r, want := range map[Rate]string{
		Mbit: "1Mbit", 1500 * Kbit: "1.5Mbit", 256 * Kbit: "256kbit", Gbit: "1Gbit", 1234: "1.234kbit",
		10 * Gbit: "10Gbit", 0: "unlimited", 1_000_001 * Bit: "1.000001Mbit",
	} {
		if got := r.String(); got != want {
			t.Errorf("Rate(%d).String() = %q, want %q", int64(r), got, want)
		}
		if back, err := ParseRate(want); err != nil || back != r {
			t.Errorf("ParseRate(%q) = %v, %v; want %d", want, int64(back), err, int64(r))
		}
	}
	for s, want := range map[Size]string{200 * KB: "200KB", MB: "1MB", 512: "512B", 1500 * KB: "1.5MB", 1001: "1.001KB", 0: "0B"} {
		if got := s.String(); got != want {
			t.Errorf("Size(%d).String() = %q, want %q", s, got, want)
		}
		if s == 0 {
			continue
		}
		if back, err := ParseSize(want); err != nil || back != s {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", want, back, err, s)
		}
	}
}

// TestTimeFor: N bytes at R take N·8/R, rounded up to the nanosecond, and
// bytesIn is its inverse.
func TestTimeFor(t *testing.T) {
	for _, c := range []struct {
		r    Rate
		n    int64
		want time.Duration
	}{
		{Mbit, 200_000, 1600 * time.Millisecond},
		{Mbit, 1, 8 * time.Microsecond},
		{256 * Kbit, 1000, 31250 * time.Microsecond},
		{3 * Bit, 1, 2666666667},      // 8/3 s, rounded up
		{MaxRate, 1, time.Nanosecond}, // 0.8ns, rounded up
		{0, 1000, 0},
		{Mbit, 0, 0},
	} {
		if got := c.r.TimeFor(c.n); got != c.want {
			t.Errorf("%v.TimeFor(%d) = %v, want %v", c.r, c.n, got, c.want)
		}
		if c.r > 0 && c.n > 0 {
			if got := c.r.bytesIn(c.r.TimeFor(c.n)); got != c.n {
				t.Errorf("%v.bytesIn(TimeFor(%d)) = %d", c.r, c.n, got)
			}
		}
	}
}

// TestDrawsAsDocumented: the jitter's sources are the ones Profile's
// comment names, so that anyone can replay a run's delays.
func TestDrawsAsDocumented(t *testing.T) {
	p := Profile{Jitter: 30 * time.Millisecond, Seed: 42}
	pt := newPath(p, nil, 3<<1) // the fourth connection of a Meter
	var got []time.Duration
	pt.drawn = func(_ Direction, j time.Duration) { got = append(got, j) }
	now := time.Now()
	for range 5 {
		pt.schedule(In, now, 10, true)
	}
	want := documentedDraws(42, 3<<1|1, p.Jitter, 5)
	if len(got) != len(want) {
		t.Fatalf("drew %d, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("draw %d: got %v, want %v", i, got[i], want[i])
		}
	}
}
