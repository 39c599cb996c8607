package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSideBySide(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, 4, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"walkie (HTTP/1.1)", "phone (WebSocket)", "interruption waited", "connections"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
