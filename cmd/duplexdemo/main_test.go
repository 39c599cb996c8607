package main

import (
	"bytes"
	"context"
	"flag"
	"net"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/duplexdemo/duplexdemo/internal/golden"
	"github.com/duplexdemo/duplexdemo/internal/pipenet"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMain(m *testing.M) {
	// The binary the process tests build (see binary) is removed after them,
	// whatever they did; goleak checks for goroutines before it exits.
	goleak.VerifyTestMain(exitHook{m})
}

// exitHook runs the tests, then removes the binary they built.
type exitHook struct{ m *testing.M }

func (h exitHook) Run() int {
	code := h.m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	return code
}

// testDeps returns dependencies writing to buffers, acting as a terminal
// or a pipe, with the given environment.
func testDeps(terminal bool, environ map[string]string) (*env, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return &env{
		In:            strings.NewReader(""),
		Out:           &out,
		ErrOut:        &errOut,
		IsTerminal:    terminal,
		TerminalWidth: 100,
		Getenv:        func(k string) string { return environ[k] },
	}, &out, &errOut
}

// inMemory gives each call a fresh in-memory network, so that the command
// can run inside a synctest bubble.
func inMemory() (net.Listener, func(ctx context.Context, network, addr string) (net.Conn, error)) {
	l := pipenet.Listen()
	return l, l.DialContext
}

// execute runs the command line args and returns its error.
func execute(deps *env, args ...string) error {
	root := newCmdRoot(deps)
	root.SetArgs(args)
	return root.ExecuteContext(context.Background())
}

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Check(t, *update, name, got)
}
