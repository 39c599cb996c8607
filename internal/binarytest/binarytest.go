// Package binarytest builds the duplexdemo command once for the tests that
// run it as a user does, as a separate process, and removes it after them.
package binarytest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// Main runs a package's tests, removes the binary they built, and checks
// with goleak that they left no goroutine. Call it from TestMain. The
// tests, and the commands they run, keep their settings (a student's
// name) in a configuration directory of their own, removed after them,
// never in the user's.
func Main(m *testing.M) { goleak.VerifyTestMain(exitHook{m}) }

// exitHook runs the tests, then removes the binary they built.
type exitHook struct{ m *testing.M }

func (h exitHook) Run() int {
	config, err := os.MkdirTemp("", "duplexdemo-config")
	if err != nil {
		panic("binarytest: no temporary directory: " + err.Error())
	}
	defer os.RemoveAll(config)
	os.Setenv("XDG_CONFIG_HOME", config) // the user's own is not the tests' to write
	code := h.m.Run()
	if dir != "" {
		os.RemoveAll(dir)
	}
	return code
}

// Binary builds duplexdemo the first time it is called and returns its
// path; the package's TestMain must call Main, which removes it.
func Binary(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		d, err := os.MkdirTemp("", "duplexdemo-bin")
		if err != nil {
			buildErr = err
			return
		}
		dir, path = d, filepath.Join(d, "duplexdemo")
		out, err := exec.Command("go", "build", "-o", path, "github.com/duplexdemo/duplexdemo/cmd/duplexdemo").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("building duplexdemo: %v", buildErr)
	}
	return path
}

var (
	once     sync.Once
	dir      string // removed by Main
	path     string
	buildErr error
)
