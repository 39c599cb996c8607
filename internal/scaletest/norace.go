//go:build !race

package scaletest

// RaceEnabled says the race detector is on, which slows code unevenly
// enough that timing ratios mean nothing.
const RaceEnabled = false
