//go:build !race

package traceevent_test

// raceEnabled says the race detector is on, which slows the code unevenly
// enough that timing ratios mean nothing.
const raceEnabled = false
