package main

import (
	"testing"
	"testing/synctest"
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
		{"compare-all.golden", false, []string{"compare", "--all"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				deps, out, errOut := testDeps(tc.terminal, nil)
				deps.Network = inMemory
				if err := execute(deps, tc.args...); err != nil {
					t.Fatalf("%v: %v (stderr %q)", tc.args, err, errOut)
				}
				checkGolden(t, tc.name, out.Bytes())
			})
		})
	}
}
