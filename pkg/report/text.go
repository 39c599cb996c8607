package report

import (
	"fmt"
	"math"
)

// MSText formats milliseconds as a whole number, "731 ms".
func MSText(ms float64) string {
	return fmt.Sprintf("%d ms", int64(math.Round(ms)))
}

// SpentText formats time spent talking or listening: "<1 ms" when a side
// did speak or hear, but only lines too short to take a millisecond.
func SpentText(ms float64, lines int) string {
	if lines > 0 && ms < 0.5 {
		return "<1 ms"
	}
	return MSText(ms)
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
