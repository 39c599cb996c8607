package render

import (
	"time"
	"unicode/utf8"

	"github.com/duplexdemo/duplexdemo/pkg/result"
)

// visibleWidth counts the columns s takes on screen, skipping ANSI escapes.
func visibleWidth(s string) int {
	n := 0
	for i := 0; i < len(s); {
		if s[i] == 0x1b {
			for i < len(s) && s[i] != 'm' {
				i++
			}
			i++
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n++
	}
	return n
}

// formatMS formats a duration as whole milliseconds, "731 ms".
func formatMS(d time.Duration) string { return result.DurationText(d) }
