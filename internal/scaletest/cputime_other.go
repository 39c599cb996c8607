//go:build !unix

package scaletest

import "time"

// cpuTime returns the wall clock, where there is no getrusage.
func cpuTime() time.Duration { return time.Duration(time.Now().UnixNano()) }
