//go:build unix

package scaletest

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time the process has used, user and system: a
// busy machine stretches it far less than the wall clock.
func cpuTime() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return time.Duration(time.Now().UnixNano())
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
