package timeline

import (
	"strings"
	"testing"

	"github.com/duplexdemo/duplexdemo/pkg/story"
)

// TestPhotoIsRecordedShort: a photo is recorded under its short text with
// its real size, heard only as itself (not another text of its length),
// and a line sent after it may be heard before it; no other line may be
// overtaken.
func TestPhotoIsRecordedShort(t *testing.T) {
	s, err := story.New(story.Options{Photo: 200_000})
	if err != nil {
		t.Fatal(err)
	}
	r := NewRecorder(nil)
	q := r.Want(Client, story.LabelQuestion, s.Question, ReasonConnecting)
	r.Sent(q)
	p := r.Want(Client, story.LabelPhoto, s.Photo, ReasonChannelBusy)
	r.Sent(p)
	i := r.Want(Client, story.LabelInterruption, s.Interruption, ReasonChannelBusy)
	r.Sent(i)
	if _, err := r.Heard(Client, s.Interruption); err == nil {
		t.Error("the interruption was heard before the question, a line that is not a photo")
	}
	if _, err := r.Heard(Client, s.Question); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Heard(Client, strings.Repeat("A", len(s.Photo))); err == nil || len(err.Error()) > 300 {
		t.Errorf("another text of the photo's length: %v; want it refused in a short error", err)
	}
	if m, err := r.Heard(Client, s.Interruption); err != nil || m.Label != story.LabelInterruption {
		t.Fatalf("the interruption, overtaking the photo: %v, %v", m, err)
	}
	m, err := r.Heard(Client, s.Photo)
	if err != nil {
		t.Fatal(err)
	}
	if m.Text != story.PhotoText(200_000) || m.Bytes() != 200_000 {
		t.Errorf("the photo heard as %q, %d bytes", m.Text, m.Bytes())
	}
	tl := r.Finish()
	for _, e := range tl.Events {
		if e.Label == story.LabelPhoto && (e.Text != story.PhotoText(200_000) || e.Bytes != 200_000) {
			t.Errorf("a %s event of the photo: %q, %d bytes", e.Kind, e.Text, e.Bytes)
		}
	}

	// A recorder of grandma's side alone labels it from the script.
	side := NewSideRecorder(Server, s.LineLabel, nil)
	if m, err := side.Heard(Client, s.Photo); err != nil || m.Label != story.LabelPhoto || m.Text != story.PhotoText(200_000) || m.Bytes() != 200_000 {
		t.Errorf("grandma's own recorder heard the photo as %+v, %v", m, err)
	}
	side.Finish()
}

// TestMergeKeepsThePhoto: both sides recorded apart, the photo joined is
// one message under its short text with its real size, as a message
// rebuilt from a record (AsPhoto) is.
func TestMergeKeepsThePhoto(t *testing.T) {
	s, err := story.New(story.Options{Photo: 50_000})
	if err != nil {
		t.Fatal(err)
	}
	c := NewSideRecorder(Client, s.LineLabel, nil)
	g := NewSideRecorder(Server, s.LineLabel, nil)
	for _, l := range []struct {
		from        Side
		label, text string
	}{{Client, story.LabelQuestion, s.Question}, {Server, story.LabelStory, s.Story[0]}, {Client, story.LabelPhoto, s.Photo}} {
		say, hear := c, g
		if l.from == Server {
			say, hear = g, c
		}
		say.Sent(say.Want(l.from, l.label, l.text, ReasonChannelBusy))
		if _, err := hear.Heard(l.from, l.text); err != nil {
			t.Fatal(err)
		}
	}
	kid, hers := c.Finish(), g.Finish()
	a, err := Align(kid, hers)
	if err != nil {
		t.Fatal(err)
	}
	joined, err := Merge(kid, hers, a)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := joined.Message(story.LabelPhoto)
	if !ok || !p.Sent || !p.Heard || p.Text != story.PhotoText(50_000) || p.Bytes() != 50_000 {
		t.Errorf("the joined photo: %+v, %d bytes", p, p.Bytes())
	}
	if r := (Message{Label: story.LabelPhoto}).AsPhoto(50_000); r.Text != p.Text || r.Bytes() != p.Bytes() {
		t.Errorf("a photo rebuilt: %q, %d bytes; recorded: %q, %d bytes", r.Text, r.Bytes(), p.Text, p.Bytes())
	}
}
