package main

import (
	"github.com/duplexdemo/duplexdemo/internal/binarytest"

	"bytes"
	"context"
	"flag"
	"net"
	"strings"
	"testing"

	"github.com/duplexdemo/duplexdemo/internal/golden"
	"github.com/duplexdemo/duplexdemo/internal/pipenet"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMain(m *testing.M) {
	// The binary the process tests build is removed after them, whatever
	// they did; goleak checks for goroutines before the test binary exits.
	binarytest.Main(m)
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
