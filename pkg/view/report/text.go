package report

import (
	"fmt"
	"math"

	"github.com/duplexdemo/duplexdemo/pkg/link"
	"github.com/duplexdemo/duplexdemo/pkg/result"
)

// UnitText formats a value in unit ("ms", "B", "%", or "" for a plain
// count): "731 ms", "607 B", "80%", "12".
func UnitText(v float64, unit string) string {
	switch unit {
	case "ms":
		return result.MSText(v)
	case "%":
		return fmt.Sprintf("%.0f%%", v)
	case "":
		if v == math.Trunc(v) {
			return fmt.Sprintf("%d", int64(v))
		}
		return fmt.Sprint(v)
	}
	if v == math.Trunc(v) {
		return fmt.Sprintf("%d %s", int64(v), unit)
	}
	return fmt.Sprintf("%g %s", v, unit)
}

// Text formats the fact's value in its unit: "12", "414 B", "82 ms".
func (f Fact) Text() string { return UnitText(f.Value, f.Unit) }

// SpentText formats time spent talking or listening: "<1 ms" when a side
// did speak or hear, but only lines too short to take a millisecond.
func SpentText(ms float64, lines int) string {
	if lines > 0 && ms < 0.5 {
		return "<1 ms"
	}
	return result.MSText(ms)
}

// BytesText formats wire bytes with the share that was not payload, the
// number padded to width columns: "607 B (80% overhead)".
func BytesText(wire, payload int64, width int) string {
	if wire == 0 {
		return "0 B"
	}
	overhead := float64(wire-payload) / float64(wire) * 100
	return fmt.Sprintf("%*d B (%.0f%% overhead)", width, wire, overhead)
}

// RateText formats a link's bandwidth in bits per second as the command
// line writes it: "1Mbit", "256kbit".
func RateText(bps int64) string { return link.Rate(bps).String() }
