package wire_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// photoSize is the photo of these tests.
const photoSize = 50_000

// photoScript is the default script with a photo of photoSize bytes.
func photoScript(t testing.TB) story.Script {
	t.Helper()
	s, err := story.New(story.Options{Photo: photoSize})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestScriptQueryPhoto: the photo goes by its size, and grandma builds the
// same photo from it; without a photo the query has no such parameter,
// and a query without it (an older grandchild's) is a script without a
// photo; a bad or too big size is refused in one line that says what
// would be right.
func TestScriptQueryPhoto(t *testing.T) {
	s := photoScript(t)
	q := wire.ScriptQuery(s)
	if got := q.Get(wire.QueryPhoto); got != strconv.Itoa(photoSize) {
		t.Errorf("the query's %s: %q, want %d", wire.QueryPhoto, got, photoSize)
	}
	got, err := wire.ParseScript(q)
	if err != nil {
		t.Fatal(err)
	}
	if !got.IsPhoto(s.Photo) || got.MaxGrandchildLine(4096) != photoSize {
		t.Errorf("grandma's photo is %d bytes, not the grandchild's %d", len(got.Photo), len(s.Photo))
	}

	if q := wire.ScriptQuery(story.Default()); q.Has(wire.QueryPhoto) {
		t.Errorf("a script without a photo sent %s=%s", wire.QueryPhoto, q.Get(wire.QueryPhoto))
	}
	old, err := url.ParseQuery("afterthought-at=2s&goodbye-at=2.6s&interrupt-at=600ms&pace=250ms&protocol=1&sentences=6")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := wire.ParseScript(old); err != nil || got.Photo != "" || len(got.Story) != 6 {
		t.Errorf("an older grandchild's query: %d sentences, a photo of %d bytes, %v; want 6, none, no error", len(got.Story), len(got.Photo), err)
	}

	for _, bad := range []string{"abc", "0", "-1", "1.5", "200KB", strconv.Itoa(story.MaxPhoto + 1), "99999999999999999999"} {
		q := wire.ScriptQuery(story.Default())
		q.Set(wire.QueryPhoto, bad)
		_, err := wire.ParseScript(q)
		if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), strconv.Quote(bad)) ||
			!strings.Contains(err.Error(), "from 1 to "+strconv.Itoa(story.MaxPhoto)) {
			t.Errorf("photo=%s: got %v; want one line naming the value and the sizes allowed", bad, err)
		}
	}
	q = wire.ScriptQuery(story.Default())
	q.Set(wire.QueryPhoto, strconv.Itoa(story.MaxPhoto))
	if got, err := wire.ParseScript(q); err != nil || len(got.Photo) != story.MaxPhoto {
		t.Errorf("the largest photo: %d bytes, %v", len(got.Photo), err)
	}
}

// photoCall records both sides of a call with a photo, on the fake clock,
// each on its own recorder as when grandma is elsewhere, and returns each
// side's record, encoded.
func photoCall(t *testing.T, s story.Script) (kid, hers []byte) {
	synctest.Test(t, func(t *testing.T) {
		c := timeline.NewSideRecorder(timeline.Client, s.LineLabel, nil)
		g := timeline.NewSideRecorder(timeline.Server, s.LineLabel, nil)
		say := func(r *timeline.Recorder, from timeline.Side, label, text string, hear *timeline.Recorder, after time.Duration) {
			r.Sent(r.Want(from, label, text, timeline.ReasonChannelBusy))
			time.Sleep(after)
			if _, err := hear.Heard(from, text); err != nil {
				t.Fatal(err)
			}
		}
		say(c, timeline.Client, story.LabelQuestion, s.Question, g, 10*time.Millisecond)
		say(g, timeline.Server, story.LabelStory, s.Story[0], c, 10*time.Millisecond)
		say(c, timeline.Client, story.LabelPhoto, s.Photo, g, 400*time.Millisecond)
		say(c, timeline.Client, story.LabelInterruption, s.Interruption, g, 10*time.Millisecond)
		say(g, timeline.Server, story.LabelAnswer, s.Answer, c, 10*time.Millisecond)
		var err error
		if kid, err = wire.EncodeSideRecord(c.Finish(), timeline.Client, wire.Facts{Connections: 1}); err != nil {
			t.Fatal(err)
		}
		if hers, err = wire.EncodeRecord(g.Finish(), wire.Facts{Connections: 1}); err != nil {
			t.Fatal(err)
		}
	})
	return kid, hers
}

// TestRecordWithPhoto: each side's record gives the photo under its short
// text with its size, never the photo itself; decoded against the script,
// and joined, the photo is one message of its real size on both sides'
// events. A photo of another size, a photo's size on another line, or a
// photo where the script has none, is refused.
func TestRecordWithPhoto(t *testing.T) {
	s := photoScript(t)
	kid, hers := photoCall(t, s)
	short := story.PhotoText(photoSize)
	for _, rec := range [][]byte{kid, hers} {
		if len(rec) > 10_000 || !strings.Contains(string(rec), `"text":"`+short+`","bytes":50000`) {
			t.Fatalf("a record of %d bytes, without the photo's short text and size: %.300s", len(rec), rec)
		}
	}
	k, _, err := wire.DecodeSideRecord(kid, s, timeline.Client)
	if err != nil {
		t.Fatal(err)
	}
	g, _, err := wire.DecodeRecord(hers, s)
	if err != nil {
		t.Fatal(err)
	}
	a, err := timeline.Align(k, g)
	if err != nil {
		t.Fatal(err)
	}
	joined, err := timeline.Merge(k, g, a)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := joined.Message(story.LabelPhoto)
	if !ok || !p.Sent || !p.Heard || p.Text != short || p.Bytes() != photoSize || p.HeardAt-p.SentAt != 400*time.Millisecond {
		t.Errorf("the joined photo: %+v, %d bytes; want it sent, heard 400ms later, %q, %d bytes", p, p.Bytes(), short, photoSize)
	}
	events := 0
	for _, e := range joined.Events {
		if e.Label == story.LabelPhoto {
			events++
			if e.Text != short || e.Bytes != photoSize {
				t.Errorf("the %s's %s event of the photo: %q, %d bytes", e.Side, e.Kind, e.Text, e.Bytes)
			}
		}
	}
	if events != 3 { // the grandchild's want and send, grandma's hearing
		t.Errorf("%d events of the photo, want 3", events)
	}

	none := story.Default()
	for _, tc := range []struct {
		name   string
		record string
		script story.Script
		says   string
	}{
		{"another size", strings.Replace(string(hers), `"bytes":50000`, `"bytes":49999`, 1), s, "the script's is 50000 bytes"},
		{"another photo's text", strings.Replace(string(hers), short, story.PhotoText(60_000), 1), s, "the script's is 50000 bytes"},
		{"no size", strings.Replace(string(hers), `,"bytes":50000`, ``, 1), s, "a photo of 0 bytes"},
		{"a size on another line", strings.Replace(string(hers), `"label":"question","text":"`+s.Question+`"`, `"label":"question","text":"`+s.Question+`","bytes":57`, 1), s, "only a photo's"},
		{"no photo in the script", string(hers), none, "the script has none"},
		{"the photo's size as a text", strings.Replace(string(hers), short, "[a photo]", 1), s, "the script's is"},
	} {
		if tc.record == string(hers) && tc.script.Photo != "" {
			t.Fatalf("%s: the record was not changed", tc.name)
		}
		_, _, err := wire.DecodeRecord([]byte(tc.record), tc.script)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: got %v, want an error saying %q", tc.name, err, tc.says)
		}
	}
	// The grandchild's own record, as she reports it to the class, is
	// checked the same way.
	if _, _, err := wire.DecodeSideRecord(kid, none, timeline.Client); err == nil || !strings.Contains(err.Error(), "the script has none") {
		t.Errorf("the grandchild's record of a photo against a script without one: %v", err)
	}
}
