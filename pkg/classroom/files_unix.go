//go:build unix

package classroom

import "syscall"

// openFileLimit returns how many files the process may have open: its
// RLIMIT_NOFILE (the soft limit, which Go raises to the hard one at start);
// 0 if it cannot be read or is too large to matter.
func openFileLimit() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	if n := uint64(l.Cur); n < 1<<30 {
		return int(n)
	}
	return 0
}
