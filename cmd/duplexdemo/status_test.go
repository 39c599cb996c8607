package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/internal/syncbuf"
	"github.com/duplexdemo/duplexdemo/pkg/class"
	"github.com/duplexdemo/duplexdemo/pkg/classroom"
)

// TestStatusLine: on a terminal the tally is redrawn in place, cut to the
// width, and the log is written above it; elsewhere each tally is a line.
func TestStatusLine(t *testing.T) {
	var out, log bytes.Buffer
	s := newStatusLine(&env{Out: &out, IsTerminal: true, TerminalWidth: 30})
	s.set("experiment 1: 0 calls")
	s.set("experiment 1: 1 call | walkie 1, interruption heard after 812 ms (median)")
	if _, err := s.Above(&log).Write([]byte("time=... msg=call\n")); err != nil {
		t.Fatal(err)
	}
	s.End()
	want := "\r\x1b[2Kexperiment 1: 0 calls" +
		"\r\x1b[2Kexperiment 1: 1 call | wal..." +
		"\r\x1b[2K" + "experiment 1: 1 call | wal..." + "\n"
	if out.String() != want || log.String() != "time=... msg=call\n" {
		t.Errorf("on a terminal:\n got %q\nwant %q\n log %q", out.String(), want, log.String())
	}

	out.Reset()
	room, _, err := class.Open(class.Options{Modes: classroom.ClassModes()})
	if err != nil {
		t.Fatal(err)
	}
	defer room.Close()
	var sync syncbuf.Buffer
	s = newStatusLine(&env{Out: &sync})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Follow(ctx, room)
	}()
	for !strings.Contains(sync.String(), "\n") {
		time.Sleep(time.Millisecond) // the first tally
	}
	c := class.Call{Student: class.NewName()}
	c.Mode = "phone"
	for range 3 {
		if _, err := room.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	cancel()
	<-done
	lines := strings.Split(strings.TrimSpace(sync.String()), "\n")
	if len(lines) < 2 || lines[0] != "experiment 1: 0 calls" || !strings.HasPrefix(lines[len(lines)-1], "experiment 1: 3 calls | phone 3") {
		t.Errorf("off a terminal: %q; want the first tally and the last, each a line", lines)
	}
	if len(lines) > 2 {
		t.Errorf("off a terminal, %d tallies within %v: %q", len(lines), tallyEvery, lines)
	}
}
