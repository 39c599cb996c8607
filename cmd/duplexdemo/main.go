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
	ctx, cancel := context.WithCancelCause(context.Background())
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		if sig, ok := <-signals; ok {
			cancel(interrupted{sig.(syscall.Signal)})
		}
	}()
	err := newCmdRoot(systemStreams()).ExecuteContext(ctx)
	signal.Stop(signals)
	if cause := context.Cause(ctx); err != nil && errors.Is(err, context.Canceled) && cause != nil {
		err = cause // say which signal stopped it
	}
	os.Exit(exitCode(err, os.Stderr))
}

// interrupted is the error of a run stopped by a signal: Ctrl-C (SIGINT)
// or SIGTERM. It is a context.Canceled, as the run saw it.
type interrupted struct{ sig syscall.Signal }

func (e interrupted) Error() string        { return "stopped by " + e.sig.String() }
func (e interrupted) Is(target error) bool { return target == context.Canceled }

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
		// The shells' convention: 128 and the signal's number, 130 for
		// Ctrl-C (SIGINT), 143 for SIGTERM.
		code := 130
		var in interrupted
		if errors.As(err, &in) {
			code = 128 + int(in.sig)
		}
		fmt.Fprintln(stderr, "duplexdemo: interrupted; everything it started has stopped")
		return code
	}
	fmt.Fprintln(stderr, "duplexdemo: "+err.Error())
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}
