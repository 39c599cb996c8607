package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/duplexdemo/duplexdemo/pkg/modes"
)

// TestGolden runs each mode inside a synctest bubble over an in-memory
// network. The fake clock makes every measured time exact, so the whole
// output, live log and JSON alike, is the same byte for byte on every run.
func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name     string
		terminal bool
		args     []string
	}{
		{"walkie.golden", false, []string{"walkie"}},
		{"phone.golden", false, []string{"phone"}},
		{"walkie-json.golden", false, []string{"walkie", "--json"}},
		{"phone-json.golden", false, []string{"phone", "--json"}},
		{"walkie-ascii-60.golden", false, []string{"walkie", "--ascii", "--width", "60"}},
		{"phone-color.golden", true, []string{"phone", "--latency", "70ms", "--speed", "2"}},
		{"walkie-color.golden", true, []string{"walkie", "--latency", "70ms", "--speed", "2"}},
		{"compare.golden", false, []string{"compare"}},
		{"walkthrough.golden", false, []string{"walkthrough", "--no-pause"}},
		{"compare-json.golden", false, []string{"compare", "--json"}},
		{"poll.golden", false, []string{"poll"}},
		{"poll-json.golden", false, []string{"poll", "--json", "--every", "100ms"}},
		{"longpoll.golden", false, []string{"longpoll"}},
		{"sse.golden", false, []string{"sse"}},
		{"compare-all.golden", false, []string{"compare", "--modes", strings.Join(streamKeys(), ",")}},
		{"h1full.golden", false, []string{"h1full"}},
		{"h2.golden", false, []string{"h2"}},
		{"tcp-json.golden", false, []string{"tcp", "--json"}},
		{"phone-link.golden", false, []string{"phone", "--bandwidth", "64kbit", "--jitter", "20ms", "--seed", "7"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				deps, out, errOut := testDeps(tc.terminal, nil)
				deps.Network = inMemory
				if err := execute(deps, tc.args...); err != nil {
					t.Fatalf("%v: %v (stderr %q)", tc.args, err, errOut)
				}
				checkGolden(t, tc.name, closesInOrder(out.Bytes()))
			})
		})
	}
}

// streamKeys returns the keys of every mode that the in-memory network can
// carry: compare --all but those on UDP datagrams, which cannot run on the
// fake clock (see TestCompareAllOnRealSockets).
func streamKeys() []string {
	var keys []string
	for _, m := range modes.All() {
		if !m.Datagrams {
			keys = append(keys, m.Key)
		}
	}
	return keys
}

// closeLine matches a live log line of a connection closing, and its time.
var closeLine = regexp.MustCompile(`^\s*(\d+) .*(hangs up|closes) the connection`)

// closesInOrder sorts each run of connection closes at the same moment:
// when a call has two connections, both sides close both at once, on the
// fake clock, in an order the goroutines that notice decide. Everything
// else is compared as it was printed.
func closesInOrder(out []byte) []byte {
	lines := strings.SplitAfter(string(out), "\n")
	for i := 0; i < len(lines); {
		m := closeLine.FindStringSubmatch(lines[i])
		if m == nil {
			i++
			continue
		}
		j := i + 1
		for j < len(lines) {
			n := closeLine.FindStringSubmatch(lines[j])
			if n == nil || n[1] != m[1] {
				break
			}
			j++
		}
		slices.Sort(lines[i:j])
		i = j
	}
	return []byte(strings.Join(lines, ""))
}
