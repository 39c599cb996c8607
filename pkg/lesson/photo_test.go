package lesson

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/h2"
	"github.com/duplexdemo/duplexdemo/pkg/link"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/view/render"
	"github.com/duplexdemo/duplexdemo/pkg/view/report"
	"github.com/duplexdemo/duplexdemo/pkg/webtransport"
)

const photoTitle = "Full duplex is not the end of waiting"

// flat undoes the wrapping and the non-breaking spaces of the lesson's
// words, for a test to look for a sentence in them.
func flat(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, nbsp, " ")), " ")
}

// playPhoto plays the chapter "Full duplex is not the end of waiting" with
// teacher l, on the fake clock over the in-memory network unless real,
// and returns its page, what it printed and the calls it measured.
func playPhoto(t *testing.T, l *Teacher) (Page, string, []report.Call) {
	t.Helper()
	var out bytes.Buffer
	var measured []report.Call
	l.Out = &out
	l.Measured = func(_ int, r report.Call) { measured = append(measured, r) }
	page, err := l.Play(context.Background(), Chapters(), chapter(t, photoTitle))
	if err != nil {
		t.Fatal(err)
	}
	return page, out.String(), measured
}

// TestPhotoTellsTheMeasuredNumbers plays the chapter "Full duplex is not
// the end of waiting" on the fake clock over the in-memory network, and on
// real sockets, on the lesson's link with no bandwidth of its own: it
// sends a 200KB photo on 1Mbit. It plays the phone, HTTP/2 and, on real
// sockets, WebTransport; every number its conclusion gives is the one its
// table shows; the phone's interruption queued behind the photo longer
// than HTTP/2's, which queued behind the photo too; and the chapters after
// it still point at the lesson's own calls, not these.
func TestPhotoTellsTheMeasuredNumbers(t *testing.T) {
	for _, real := range []bool{false, true} {
		check := func(t *testing.T) {
			l := &Teacher{Style: render.Style{Width: 60, ASCII: true}, Script: story.Default(), Latency: 40 * time.Millisecond}
			if !real {
				l.Network = inMemory
			}
			page, out, measured := playPhoto(t, l)
			want := []string{fullduplex.Mode().Key, h2.Mode().Key}
			if real {
				want = append(want, webtransport.Mode().Key)
			}
			var got []string
			for _, r := range measured {
				got = append(got, r.Mode)
				if r.Summary.Photo == nil || r.Summary.Photo.Bytes != photoSize || r.Summary.LinkBusyMS == nil {
					t.Errorf("%s: photo %+v, link busy %v; want a photo of %d B on a limited link", r.Mode, r.Summary.Photo, r.Summary.LinkBusyMS, photoSize)
				}
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("played %q, want %q", got, want)
			}
			if len(l.latest) != 0 {
				t.Errorf("the chapter's calls became the lesson's latest (%d): the chapters after it would point at a photo's numbers", len(l.latest))
			}
			whole := photoTable(measured)
			value := func(measure, mode string) string {
				for _, row := range whole.Measures {
					if row.Name == measure {
						return row.ValueText(row.Values[mode], "-")
					}
				}
				t.Fatalf("no measure %s", measure)
				return ""
			}
			phone, two := measured[0], measured[1]
			point := flat(page.Point)
			says := []string{
				fmt.Sprintf("At 1Mbit a 200KB photo takes %d B x 8 / 1Mbit = %s to cross; the link up was busy %s on the phone call.",
					photoSize, durString(link.Mbit.TimeFor(photoSize)), value("link_busy_client_to_server_ms", phone.Mode)),
				fmt.Sprintf("On the phone the interruption queued %s behind it, in the same direction, while %s of grandma's sentences came down the other way",
					value("interruption_behind_photo_ms", phone.Mode), value("sentences_meanwhile", phone.Mode)),
			}
			// Whether HTTP/2's interruption overtook the photo is measured;
			// the conclusion says which.
			// On the fake clock the photo and the interruption are due at
			// the same instant, and either stream's frames may reach the
			// connection first.
			if *two.Summary.Interruption.HeardAtMS < *two.Summary.Photo.HeardAtMS {
				text := fmt.Sprintf("On HTTP/2 the interruption, on a stream of its own, overtook the photo, heard %s after it was wanted", value("interruption_heard_after_ms", two.Mode))
				if q := behind(two); q >= 40 {
					text += fmt.Sprintf(", yet queued %s: the streams share one TCP connection", value("interruption_behind_photo_ms", two.Mode))
				}
				says = append(says, text)
			} else {
				says = append(says, fmt.Sprintf("was heard only after the whole photo, %s after it was wanted", value("interruption_heard_after_ms", two.Mode)))
			}
			if !real {
				says = append(says, "Left out here: WebTransport, which rides UDP datagrams")
			}
			for _, want := range says {
				if !strings.Contains(point, want) {
					t.Errorf("the conclusion says %q; want it to say %q, as measured", point, want)
				}
			}
			// The photo held up the phone's interruption longer than
			// HTTP/2's, on a stream of its own, which queued at most behind
			// the window of the photo let onto the one connection ahead of
			// it. The bounds are the link's, with a window's margin.
			q := func(r report.Call) time.Duration {
				return time.Duration(behind(r) * float64(time.Millisecond))
			}
			if photoTime, window := link.Mbit.TimeFor(photoSize), link.Mbit.TimeFor(call.StreamWindow); q(phone) < photoTime/2 || q(two) >= q(phone) || q(two) > 2*window {
				t.Errorf("queued behind the photo: phone %v, h2 %v; want the phone's at least half the photo's %v, and h2's less than the phone's, at most two windows (%v)",
					q(phone), q(two), photoTime, 2*window)
			}
			// The narration fits --width 60 --ascii.
			for _, line := range strings.Split(out, "\n") {
				if len([]rune(line)) > 60 || strings.ContainsFunc(line, func(r rune) bool { return r > 127 }) {
					t.Errorf("a line of %d columns, or not ASCII, at --width 60 --ascii: %q", len([]rune(line)), line)
				}
			}
			if page.Table == nil || !page.TableFirst || len(page.Table.Calls) != len(want) || len(page.Lanes) != 4 {
				t.Errorf("the chapter's picture is not a table of its %d calls, with the phone's lanes and its link's", len(want))
			}
		}
		if real {
			t.Run("real sockets", check)
		} else {
			t.Run("fake clock", func(t *testing.T) { synctest.Test(t, check) })
		}
	}
}

// durString formats a duration as the lesson's numbers do.
func durString(d time.Duration) string { return strings.ReplaceAll(durText(d), nbsp, " ") }

// TestPhotoShrinksToFit: on a link too slow for a 200KB photo to cross
// before the goodbye, the chapter sends a smaller one, and says so.
func TestPhotoShrinksToFit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &Teacher{Style: render.Style{Width: 80}, Script: story.Default(), Latency: 40 * time.Millisecond, Bandwidth: 256 * link.Kbit, Network: inMemory}
		page, _, measured := playPhoto(t, l)
		// 2 s from the interruption to the goodbye, three quarters of it at
		// 256kbit: 48000 B.
		const fits = 48_000
		if len(measured) == 0 {
			t.Fatalf("no calls; the conclusion: %q", page.Point)
		}
		for _, r := range measured {
			if r.Summary.Photo == nil || r.Summary.Photo.Bytes != fits {
				t.Errorf("%s: photo %+v, want %d B", r.Mode, r.Summary.Photo, fits)
			}
		}
		if want := "A 200KB photo takes 6250 ms to cross at 256kbit, and the goodbye is due 2000 ms after the interruption: this chapter sends a 48KB one."; flat(page.Notes) != want {
			t.Errorf("notes %q, want %q", flat(page.Notes), want)
		}
		if want := "At 256kbit a 48KB photo takes 48000 B × 8 / 256kbit = 1500 ms to cross"; !strings.Contains(flat(page.Point), want) {
			t.Errorf("the conclusion says %q; want %q", flat(page.Point), want)
		}
	})
}

// TestPhotoRefusedOnALinkTooSlow: on a link where even a small photo
// cannot cross before the goodbye, the chapter plays no call and says why,
// and the lesson goes on.
func TestPhotoRefusedOnALinkTooSlow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &Teacher{Style: render.Style{Width: 80}, Script: story.Default(), Latency: 40 * time.Millisecond, Bandwidth: link.MinRate, Network: inMemory}
		page, _, measured := playPhoto(t, l)
		if len(measured) != 0 {
			t.Errorf("played %d calls on a link too slow for the photo", len(measured))
		}
		if want := "This chapter cannot play: at 1kbit even a 1KB photo takes 8000 ms to cross, and the goodbye is due 2000 ms after the interruption"; !strings.HasPrefix(flat(page.Point), want) {
			t.Errorf("the conclusion says %q; want it to begin %q", flat(page.Point), want)
		}
	})
}

// TestPhotoConcludesOnlyWhatWasMeasured: a stream of its own is said to
// have overtaken the photo only when its interruption was heard before the
// photo, and the phone's direction is said to be held up only when its
// interruption queued behind it.
func TestPhotoConcludesOnlyWhatWasMeasured(t *testing.T) {
	ms := func(v float64) *float64 { return &v }
	played := func(key string, heard, photoHeard, queued float64) report.Call {
		return report.Call{Mode: key, LatencyMS: 40, Summary: report.Summary{
			Interruption: report.Moment{WantedAtMS: ms(600), HeardAtMS: ms(heard), HeardAfterMS: ms(heard - 600)},
			Photo:        &report.Photo{Bytes: photoSize, SentAtMS: ms(600), HeardAtMS: ms(photoHeard), InterruptionBehindPhotoMS: ms(queued)},
			LinkBusyMS:   &report.BusyMS{ClientToServer: 1606},
		}}
	}
	p := photoLink{script: story.Default(), rate: link.Mbit}
	p.script.Photo = strings.Repeat("x", photoSize)
	wt := webtransport.Mode()
	for _, c := range []struct {
		wtHeard, wtQueued, phoneQueued float64
		says, never                    []string
	}{
		{wtHeard: 700, wtQueued: 60, phoneQueued: 1603,
			says:  []string{"On WebTransport the interruption overtook the photo, heard 100 ms after it was wanted, yet queued 60 ms: QUIC's streams are independent, but share the link, and the photo's packets already on it went first.", "in the same direction"},
			never: []string{"heard only after"}},
		// Less than a crossing of the link: its own bytes' time on it, or
		// the machine's; the table gives it, the conclusion does not.
		{wtHeard: 662, wtQueued: 21, phoneQueued: 1603,
			says:  []string{"On WebTransport the interruption overtook the photo, heard 62 ms after it was wanted."},
			never: []string{"yet queued", "QUIC's streams"}},
		{wtHeard: 2280, wtQueued: 1640, phoneQueued: 0,
			says:  []string{"On WebTransport the interruption was heard only after the whole photo, 1680 ms after it was wanted: it queued 1640 ms behind it."},
			never: []string{"overtook", "in the same direction", "full duplex frees"}},
	} {
		table := photoTable([]report.Call{played(fullduplex.Mode().Key, 2245, 2245, c.phoneQueued), played(wt.Key, c.wtHeard, 2240, c.wtQueued)})
		point := flat(photoPoint(table, p, nil))
		for _, want := range c.says {
			if !strings.Contains(point, want) {
				t.Errorf("says %q; want %q", point, want)
			}
		}
		for _, never := range c.never {
			if strings.Contains(point, never) {
				t.Errorf("says %q; want no %q", point, never)
			}
		}
	}
}

// TestAnswerCountsTheLinesTimeOnTheLink: the predict chapters' answer says
// a crossing longer than the latency took the rest on a link with a
// bandwidth or jitter, and never blames a link without them for a
// machine's millisecond.
func TestAnswerCountsTheLinesTimeOnTheLink(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	call := func(link *report.Link) report.Call {
		c := report.Call{Link: link, Events: []report.Event{
			{TMS: 600, Side: "client", Kind: "send", Label: story.LabelInterruption, WaitedMS: f(0)},
			{TMS: 647, Side: "server", Kind: "heard", Label: story.LabelInterruption},
		}}
		c.Summary.Interruption = report.Moment{WantedAtMS: f(600), HeardAtMS: f(647), WaitedMS: f(0)}
		return c
	}
	for _, c := range []struct {
		link *report.Link
		why  string
	}{
		{&report.Link{BandwidthBPS: 256_000}, "the line's time on a link of limited bandwidth."},
		{&report.Link{BandwidthBPS: 256_000, JitterMS: 10}, "the line's time on a link of limited bandwidth, and its jitter."},
		{&report.Link{JitterMS: 10}, "more, the link's jitter."},
	} {
		got := interruptionAnswer(call(c.link), 40*time.Millisecond).Why
		if !strings.Contains(got, "one latency (40\u00a0ms) and 7\u00a0ms more") || !strings.HasSuffix(got, c.why) {
			t.Errorf("on a link %+v: %q; want the 7 ms beyond the latency told, ending %q", *c.link, got, c.why)
		}
	}
	plain := interruptionAnswer(call(nil), 40*time.Millisecond).Why
	if strings.Contains(plain, "more") || !strings.Contains(plain, "one latency (40\u00a0ms).") {
		t.Errorf("on a link without a bandwidth: %q; want one latency, and nothing blamed on the link", plain)
	}
}
