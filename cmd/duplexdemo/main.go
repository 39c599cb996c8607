// Command duplexdemo runs a half-duplex and a full-duplex conversation for
// real, side by side, and shows with measured timestamps who talks, who
// listens and who is stuck waiting.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newCmdRoot(systemStreams()).ExecuteContext(ctx)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// systemStreams describes the process's real standard streams.
func systemStreams() *env {
	s := &env{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr, Getenv: os.Getenv, InIsTerminal: term.IsTerminal(int(os.Stdin.Fd()))}
	if fd := int(os.Stdout.Fd()); term.IsTerminal(fd) {
		s.IsTerminal = true
		if w, _, err := term.GetSize(fd); err == nil {
			s.TerminalWidth = w
		}
	}
	return s
}

// exitCode reports err on one line and maps it to the process's status:
// 0 for success, 2 for bad usage, 130 when interrupted, 1 otherwise.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "duplexdemo: interrupted; everything it started has stopped")
		return 130
	}
	fmt.Fprintln(stderr, "duplexdemo: "+err.Error())
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}
