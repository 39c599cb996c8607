package story

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// TestPhoto: a photo is SIZE bytes of base64 text on one line, the same
// for the same size; it is wanted just before the interruption, labelled
// photo, and lets the grandchild's lines be as long as it.
func TestPhoto(t *testing.T) {
	s, err := New(Options{Photo: 200_000})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Photo) != 200_000 || strings.ContainsAny(s.Photo, "\n\r") {
		t.Fatalf("the photo has %d bytes (want 200000) or a line break", len(s.Photo))
	}
	if _, err := base64.StdEncoding.DecodeString(s.Photo[:len(s.Photo)/4*4]); err != nil {
		t.Errorf("the photo is not base64 text: %v", err)
	}
	again, _ := New(Options{Photo: 200_000})
	if again.Photo != s.Photo {
		t.Error("two photos of one size differ: a call would not replay")
	}
	cues := s.Cues()
	if len(cues) != 4 || cues[1].Label != LabelPhoto || cues[1].Text != s.Photo || cues[1].At != s.InterruptAt || cues[1].After != StoryBegun || cues[2].Label != LabelInterruption {
		t.Errorf("cues %v...: want the photo second, at the interruption's time, just before it", cues[:2])
	}
	if label, ok := s.Label(s.Photo); !ok || label != LabelPhoto {
		t.Errorf("Label(photo) = %q, %v", label, ok)
	}
	if _, ok := s.Label(strings.Repeat("x", len(s.Photo))); ok {
		t.Error("a line as long as the photo, but not it, was taken for it")
	}
	if got := s.MaxGrandchildLine(4096); got != 200_000 {
		t.Errorf("MaxGrandchildLine = %d, want the photo's 200000", got)
	}
	if got := PhotoText(len(s.Photo)); got != "[a photo, 200KB]" {
		t.Errorf("PhotoText = %q", got)
	}
	for size, want := range map[int]string{512: "512B", 1500: "1.5KB", 2_000_000: "2MB"} {
		if got := PhotoSize(size); got != want {
			t.Errorf("PhotoSize(%d) = %q, want %q", size, got, want)
		}
	}

	plain := Default()
	if plain.Photo != "" || len(plain.Cues()) != 3 || plain.MaxGrandchildLine(4096) != 4096 {
		t.Error("the default script has a photo, a fourth cue, or longer lines")
	}
	for _, size := range []int{-1, MaxPhoto + 1} {
		var oe *OptionError
		if _, err := New(Options{Photo: size}); !errors.As(err, &oe) || oe.Option != "photo" {
			t.Errorf("New with a photo of %d bytes: %v; want a photo error", size, err)
		}
	}
}
