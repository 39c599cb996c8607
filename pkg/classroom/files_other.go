//go:build !unix

package classroom

// openFileLimit returns 0: there is no RLIMIT_NOFILE to read here.
func openFileLimit() int { return 0 }
