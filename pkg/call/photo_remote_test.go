package call

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// TestRunRemotePhoto: a photo to a grandma elsewhere is refused, before
// anything is dialled, in a mode that carries none, as in one process
// (CheckPhoto); in a mode that carries one the call is placed, and if it
// fails once the photo is sent, its error says that an older grandma
// knows no photo; before the photo, or without one, it says nothing more.
func TestRunRemotePhoto(t *testing.T) {
	s, err := story.New(story.Options{Photo: 50_000})
	if err != nil {
		t.Fatal(err)
	}
	refused := errors.New("grandma hung up")
	sendPhoto := true
	m := testMode(nil)
	m.Remote = func(ss *Session, base string) RemoteRoles {
		return RemoteRoles{
			Grandchild: func(ctx context.Context) error {
				if sendPhoto && ss.Script.Photo != "" {
					ss.Rec.Sent(ss.Rec.Want(timeline.Client, story.LabelPhoto, ss.Script.Photo, timeline.ReasonChannelBusy))
				}
				return refused
			},
			Record: func() []byte { return nil },
		}
	}
	var oe *story.OptionError
	if _, err := RunRemote(context.Background(), m, Config{Script: s}, "http://127.0.0.1:1"); !errors.As(err, &oe) || oe.Option != "photo" {
		t.Errorf("a photo in a mode without one: got %v, want an OptionError for photo", err)
	}
	m.Photo = true
	_, err = RunRemote(context.Background(), m, Config{Script: s}, "http://127.0.0.1:1")
	if !errors.Is(err, refused) || !strings.Contains(err.Error(), "older duplexdemo, it knows no photo") {
		t.Errorf("a call that failed after its photo: got %v; want the grandchild's error, and what an older grandma does", err)
	}
	sendPhoto = false
	if _, err := RunRemote(context.Background(), m, Config{Script: s}, "http://127.0.0.1:1"); err != refused {
		t.Errorf("a call that failed before its photo: got %v, want the grandchild's error alone", err)
	}
	if _, err := RunRemote(context.Background(), m, Config{Script: story.Default()}, "http://127.0.0.1:1"); err != refused {
		t.Errorf("a call without a photo: got %v, want the grandchild's error alone", err)
	}
}
