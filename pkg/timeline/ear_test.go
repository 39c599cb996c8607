package timeline_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// TestEarHearsInTheOrderSent: a line read on one stream before a line
// that crossed ahead of it on another waits for it, and is heard after it;
// a line never sent is refused after timeline.EarWait.
func TestEarHearsInTheOrderSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := timeline.NewRecorder(nil)
		e := timeline.NewEar(rec, timeline.Server)
		for _, text := range []string{"one", "two"} {
			rec.Sent(rec.Want(timeline.Server, story.LabelStory, text, ""))
		}
		second := make(chan error, 1)
		go func() {
			_, err := e.Hear(context.Background(), "two")
			second <- err
		}()
		synctest.Wait() // "two" waits for "one"
		if _, err := e.Hear(context.Background(), "one"); err != nil {
			t.Fatal(err)
		}
		if err := <-second; err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := e.Hear(context.Background(), "three"); err == nil || time.Since(start) != timeline.EarWait {
			t.Errorf("a line never sent: got %v after %v, want an error after %v", err, time.Since(start), timeline.EarWait)
		}
		var heard []string
		for _, ev := range rec.Finish().Events {
			if ev.Kind == timeline.KindHeard {
				heard = append(heard, ev.Text)
			}
		}
		if fmt.Sprint(heard) != "[one two]" {
			t.Errorf("heard %v, want [one two]", heard)
		}
	})
}
