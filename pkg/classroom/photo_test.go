package classroom_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/class"
	"github.com/duplexdemo/duplexdemo/pkg/classroom"
	"github.com/duplexdemo/duplexdemo/pkg/link"
	"github.com/duplexdemo/duplexdemo/pkg/modes"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// TestRemotePhoto calls grandma served alone with a 50KB photo on a 1Mbit
// link, in every mode that carries a photo and calls a grandma elsewhere
// (so a mode that gains either is tested here too): grandma builds the
// same photo from its size in the script's query and hears it as the
// script's. The call completes; the photo is on the joined timeline once,
// as its short text with its real size on each side's events, and took at
// least its time on the link to cross (50KB·8/1Mbit = 0.4 s, less the
// clocks' alignment); the interruption goes after it; grandma logs the
// call ok, with the photo's bytes in; the call is reported to the class.
func TestRemotePhoto(t *testing.T) {
	const size, rate = 50_000, 1 * link.Mbit
	logs := &callLog{}
	room, _, err := class.Open(class.Options{Modes: classroom.ClassModes(), Script: classroom.ClassScript()})
	if err != nil {
		t.Fatal(err)
	}
	defer room.Close()
	srv := serveWT(t, classroom.Config{Logger: slog.New(slog.NewJSONHandler(logs, nil)), Class: room})
	s := calltest.Script(t, story.Options{Speed: remoteSpeed, Photo: size})
	short := story.PhotoText(size)
	reported := 0
	for _, m := range modes.All() {
		if !m.Photo || m.Remote == nil {
			continue
		}
		t.Run(m.Key, func(t *testing.T) {
			res, err := call.RunRemote(context.Background(), m, call.Config{Script: s, Bandwidth: rate, Student: class.NewName()}, srv.url)
			if err != nil {
				t.Fatal(err)
			}
			tl := res.Timeline
			if err := complete(tl); err != nil {
				t.Fatal(err)
			}
			var photos []timeline.Message
			for _, msg := range tl.Messages {
				if msg.Label == story.LabelPhoto {
					photos = append(photos, msg)
				}
			}
			if len(photos) != 1 {
				t.Fatalf("%d photos on the timeline, want 1: %+v", len(photos), photos)
			}
			p := photos[0]
			if p.From != timeline.Client || p.Text != short || p.Bytes() != size {
				t.Errorf("the photo: from the %s, %q, %d bytes; want from the grandchild, %q, %d bytes", p.From, p.Text, p.Bytes(), short, size)
			}
			if !p.Sent || !p.Heard {
				t.Fatalf("the photo was not both sent and heard: %+v", p)
			}
			slack := 2 * res.Alignment.Uncertainty
			if crossed, takes := p.HeardAt-p.SentAt, rate.TimeFor(size); crossed < takes-slack {
				t.Errorf("the photo crossed in %v; at %v it takes %v (± %v for the clocks)", crossed, rate, takes, slack)
			}
			on := map[timeline.Side]map[timeline.Kind]bool{timeline.Client: {}, timeline.Server: {}}
			for _, e := range tl.Events {
				if e.Label != story.LabelPhoto {
					continue
				}
				on[e.Side][e.Kind] = true
				if e.Text != short || e.Bytes != size {
					t.Errorf("the %s's %s event of the photo: %q, %d bytes; want %q, %d", e.Side, e.Kind, e.Text, e.Bytes, short, size)
				}
			}
			if !on[timeline.Client][timeline.KindSend] || !on[timeline.Server][timeline.KindHeard] {
				t.Errorf("the photo's events: %v; want the grandchild's send and grandma's hearing", on)
			}
			in := calltest.Said(t, tl, story.LabelInterruption)
			if in.WantedAt < p.WantedAt || in.SentAt < p.SentAt {
				t.Errorf("the interruption wanted at %v and sent at %v; want both after the photo's, %v and %v", in.WantedAt, in.SentAt, p.WantedAt, p.SentAt)
			}
			logged := logs.wait(t, m.Key, 1, 10*time.Second)[0]
			if logged.Outcome != "ok" {
				t.Errorf("grandma logged the call %q, want ok", logged.Outcome)
			}
			if logged.BytesIn < size {
				t.Errorf("grandma read %d bytes of the call; the photo alone is %d", logged.BytesIn, size)
			}
			if res.Reported == 0 {
				t.Fatal("the call was not reported to the class")
			}
			reported++
			calls := room.Record().Calls
			if len(calls) != reported {
				t.Fatalf("the class has %d calls, want %d", len(calls), reported)
			}
			if c := calls[reported-1]; c.ID != res.Reported || c.Summary.Photo == nil || c.Summary.Photo.Bytes != size {
				t.Errorf("the class has call %d with photo %+v; want call %d with its %d bytes", c.ID, c.Summary.Photo, res.Reported, size)
			}
		})
	}
	if reported == 0 {
		t.Fatal("no mode carries a photo to a grandma elsewhere")
	}
}

// TestWalkiePhotoOutlastsReadTimeout: a walkie request's body must arrive
// within the server's ReadTimeout (here 200 ms), but the photo's may take
// as long as the script lets it cross (call.CheckPhoto): 50KB at 1Mbit
// takes 400 ms, and the call completes.
func TestWalkiePhotoOutlastsReadTimeout(t *testing.T) {
	const size, rate = 50_000, 1 * link.Mbit
	base := start(t, classroom.Config{ReadHeaderTimeout: 200 * time.Millisecond})
	s := calltest.Script(t, story.Options{Speed: remoteSpeed, Photo: size})
	m, ok := modes.Lookup("walkie")
	if !ok || !m.Photo {
		t.Skip("the walkie carries no photo yet")
	}
	res, err := call.RunRemote(context.Background(), m, call.Config{Script: s, Bandwidth: rate}, base)
	if err != nil {
		t.Fatal(err)
	}
	if p := calltest.Said(t, res.Timeline, story.LabelPhoto); p.HeardAt-p.SentAt < rate.TimeFor(size)-2*res.Alignment.Uncertainty {
		t.Errorf("the photo crossed in %v; at %v it takes %v", p.HeardAt-p.SentAt, rate, rate.TimeFor(size))
	}
}
