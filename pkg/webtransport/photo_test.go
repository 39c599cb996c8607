package webtransport

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// TestPhotoOnRealUDP: a 200KB photo crosses the one stream on real
// sockets, longer than call.MaxLine, just before the interruption, which
// comes after it on that stream; it is on the timeline under its short
// text with its real size, and the bytes up are more than it.
func TestPhotoOnRealUDP(t *testing.T) {
	const size = 200_000
	s, err := story.New(story.Options{Photo: size})
	if err != nil {
		t.Fatal(err)
	}
	res, err := call.Run(context.Background(), Mode(), call.Config{Script: s, Latency: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{story.LabelQuestion, story.LabelPhoto, story.LabelInterruption, story.LabelGoodbye}
	if got := lines(t, res.Timeline, timeline.Client); !slices.Equal(got, want) {
		t.Errorf("the grandchild said %v, want %v", got, want)
	}
	p, _ := res.Timeline.Message(story.LabelPhoto)
	if p.Text != story.PhotoText(size) || p.Bytes() != size {
		t.Errorf("the photo is on the timeline as %q, %d bytes", p.Text, p.Bytes())
	}
	if res.WireBytes[timeline.Client] <= size {
		t.Errorf("%d bytes up, for a photo of %d", res.WireBytes[timeline.Client], size)
	}
}
