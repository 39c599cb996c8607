package modes_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/internal/pipenet"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/link"
	"github.com/duplexdemo/duplexdemo/pkg/modes"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/view/report"
)

// photoSize is the photo of the tests: 200KB, 1.6 s at 1Mbit.
const photoSize = 200_000

// TestPhotoHoldsUpTheInterruption plays every mode that can play on the
// fake clock with a 200KB photo on a 1Mbit link. Where the interruption
// crosses behind the photo (one stream, or one request at a time), it is
// heard at least 1.36 s after it was wanted (200KB·8/1Mbit = 1.6 s, less
// what crossed before it), after the photo. On h2 it goes on a stream of
// its own, and grandma lets a stream have only HTTP/2's own window in
// flight (call.StreamWindow, 64KB): the streams still share one TCP
// connection, so the interruption queues behind at most a window of the
// photo, 0.52 s at 1Mbit, and is heard far sooner than the phone's. In
// every mode the photo is checked as calltest.Photo does (short on the
// timeline, its bytes counted), and the bytes each way are more than their
// payload.
func TestPhotoHoldsUpTheInterruption(t *testing.T) {
	const latency, rate = 40 * time.Millisecond, 1 * link.Mbit
	script, err := story.New(story.Options{Photo: photoSize})
	if err != nil {
		t.Fatal(err)
	}
	behind := time.Duration(float64(rate.TimeFor(photoSize)) * 0.85) // 1.36 s of its 1.6 s
	heardAfter := map[string]time.Duration{}
	for _, m := range modes.All() {
		if m.Datagrams {
			continue // UDP sockets of its own: no fake clock (its own package's tests play it)
		}
		key := m.Key
		synctest.Test(t, func(t *testing.T) {
			l := pipenet.Listen()
			res, err := call.Run(context.Background(), m, call.Config{Script: script, Latency: latency, Bandwidth: rate, Listener: l, Dial: l.DialContext})
			if err != nil {
				t.Fatal(err)
			}
			checkCall(t, res, m)
			calltest.Photo(t, res, photoSize)
			// The bytes each way are more than their payload.
			if payload := res.PayloadBytes(); res.WireBytes[0] <= payload[0] || res.WireBytes[1] <= payload[1] {
				t.Errorf("%s: %v bytes each way for a payload of %v", key, res.WireBytes, payload)
			}
			in, _ := res.Timeline.Message(story.LabelInterruption)
			heardAfter[key] = in.HeardAfter()
			p := report.Build(res).Summary.Photo
			if p == nil || p.Bytes != photoSize || p.InterruptionBehindPhotoMS == nil {
				t.Fatalf("%s: the summary's photo is %+v; want one of %d bytes", key, p, photoSize)
			}
			switch key {
			default:
				calltest.HeldUpByPhoto(t, res, behind)
				if *p.InterruptionBehindPhotoMS < result.MS(behind) {
					t.Errorf("%s: the summary has the interruption %v ms behind the photo on the link; behind a %s photo at %v, want at least %v",
						key, *p.InterruptionBehindPhotoMS, story.PhotoSize(photoSize), rate, behind)
				}
			case "h2":
				if *p.InterruptionBehindPhotoMS > result.MS(in.HeardAt-in.SentAt) {
					t.Errorf("%s: the interruption was heard %v after it was sent, and %v ms behind the photo on the link", key, in.HeardAt-in.SentAt, *p.InterruptionBehindPhotoMS)
				}
				// It goes once a window of the photo is on the
				// connection: it overtakes the rest, never that window.
				if window := rate.TimeFor(call.StreamWindow); *p.InterruptionBehindPhotoMS < result.MS(window) {
					t.Errorf("%s: the interruption queued %v ms behind the photo; want at least a window's %v", key, *p.InterruptionBehindPhotoMS, window)
				}
			}
		})
	}
	t.Logf("the interruption heard after: %v", heardAfter)
	window := rate.TimeFor(call.StreamWindow)
	if heardAfter["h2"] > window+4*latency || heardAfter["phone"] < rate.TimeFor(photoSize)-window {
		t.Errorf("the interruption heard after: h2 %v, phone %v; want h2's within a window's time (%v) and a round trip or two, the phone's behind most of the photo (%v)",
			heardAfter["h2"], heardAfter["phone"], window, rate.TimeFor(photoSize))
	}
}

// TestPhotoRefusedWhereNotCarried: every mode carries the photo; a mode
// that did not would refuse a script with one at once, in one line, as
// does a photo that cannot cross before the goodbye.
func TestPhotoRefusedWhereNotCarried(t *testing.T) {
	script, err := story.New(story.Options{Photo: photoSize})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range modes.All() {
		if !m.Photo {
			t.Errorf("%s carries no photo", m.Key)
		}
	}
	bare := call.Mode{Mode: result.Mode{Key: "bare"}}
	_, err = call.Run(context.Background(), bare, call.Config{Script: script})
	var oe *story.OptionError
	if !errors.As(err, &oe) || oe.Option != "photo" || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "bare carries no photo") {
		t.Errorf("a mode without a photo, given one: %v; want a one-line photo error", err)
	}
	big, err := story.New(story.Options{Photo: 2_000_000})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range modes.All() {
		if _, err := call.Run(context.Background(), m, call.Config{Script: big, Bandwidth: link.Mbit}); err == nil || !strings.Contains(err.Error(), "goodbye is due") {
			t.Errorf("%s: a 2MB photo at 1Mbit, 16 s, with the goodbye due 2 s after it: %v; want it refused", m.Key, err)
		}
	}
}
