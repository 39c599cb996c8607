package report

import (
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// TestInterruptionBehindPhoto: the interruption queued behind the photo
// for the client → server busy time after both were under way and before
// either had left, whichever way the mode queued it. Times in ms on a
// 40 ms link; the photo takes 1600 ms up.
func TestInterruptionBehindPhoto(t *testing.T) {
	const L = 40 * time.Millisecond
	ms := func(v int) time.Duration { return time.Duration(v) * time.Millisecond }
	line := func(label string, wanted, sent, heard int) timeline.Message {
		return timeline.Message{From: timeline.Client, Label: label, WantedAt: ms(wanted), SentAt: ms(sent), HeardAt: ms(heard), Sent: sent >= 0, Heard: heard >= 0}
	}
	up := func(start, end int) result.BusySpan {
		return result.BusySpan{From: timeline.Client, Start: ms(start), End: ms(end)}
	}
	down := func(start, end int) result.BusySpan {
		return result.BusySpan{From: timeline.Server, Start: ms(start), End: ms(end)}
	}
	for _, c := range []struct {
		name         string
		photo, inter timeline.Message
		spans        []result.BusySpan
		want         float64
	}{
		// One stream: the interruption's bytes go in behind the photo's
		// and leave when they have all left.
		{"phone", line(story.LabelPhoto, 500, 500, 2141), line(story.LabelInterruption, 500, 501, 2142),
			[]result.BusySpan{up(0, 2), up(500, 2102), down(40, 3000)}, 1601},
		// One request at a time: the interruption waits for the story
		// (not the photo's doing), then for the photo's request to cross
		// and be answered; only the crossing is the photo's.
		{"walkie", line(story.LabelPhoto, 500, 900, 2540), line(story.LabelInterruption, 500, 2580, 2621),
			[]result.BusySpan{up(0, 2), up(900, 2500), up(2580, 2581), down(40, 880)}, 1600},
		// A stream of its own: it waits only for the part of the photo let
		// onto the connection ahead of it, then crosses, and the photo goes
		// on after it.
		{"own stream", line(story.LabelPhoto, 500, 500, 2141), line(story.LabelInterruption, 500, 501, 1065),
			[]result.BusySpan{up(500, 2102)}, 525},
		// No bandwidth: nothing queues on the link, and nothing is said.
		{"no bandwidth", line(story.LabelPhoto, 500, 500, 541), line(story.LabelInterruption, 500, 501, 542), nil, -1},
		// The photo across before the interruption was wanted.
		{"photo already across", line(story.LabelPhoto, 100, 100, 400), line(story.LabelInterruption, 500, 500, 541),
			[]result.BusySpan{up(100, 360), up(500, 501)}, 0},
		// Never heard: it waited while the photo crossed, until the call
		// ended (the photo never fully left).
		{"interruption never heard", line(story.LabelPhoto, 500, 500, -1), line(story.LabelInterruption, 500, 501, -1),
			[]result.BusySpan{up(500, 1500)}, 1000},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &result.Result{Latency: L, BusySpans: c.spans, Link: result.Link{Bandwidth: 1_000_000}, Timeline: &timeline.Timeline{Duration: ms(3000), Messages: []timeline.Message{c.photo, c.inter}}}
			if c.want < 0 {
				r.Link = result.Link{}
			}
			p := photo(r)
			if p == nil {
				t.Fatal("no photo reported")
			}
			if q := p.InterruptionBehindPhotoMS; (q == nil) != (c.want < 0) || q != nil && *q != c.want {
				t.Errorf("the interruption queued %v ms behind the photo; want %v (-1: unknown)", q, c.want)
			}
		})
	}
	// A grandma elsewhere with a link of her own (serve --latency 100ms):
	// the lines left a latency of each before she heard them, so the link
	// busy after the photo left (the interruption's own bytes) is not
	// counted as queued behind it.
	remote := &result.Result{Latency: L, ServerLatency: 100 * time.Millisecond, Link: result.Link{Bandwidth: 1_000_000},
		BusySpans: []result.BusySpan{up(500, 2100), up(2100, 2200)},
		Timeline: &timeline.Timeline{Duration: ms(3000), Messages: []timeline.Message{
			line(story.LabelPhoto, 500, 500, 2240), line(story.LabelInterruption, 500, 501, 2341)}}}
	if q := photo(remote).InterruptionBehindPhotoMS; q == nil || *q != 1600 {
		t.Errorf("with grandma elsewhere, the interruption queued %v ms behind the photo; want 1600", q)
	}
	if p := photo(&result.Result{Timeline: &timeline.Timeline{}}); p != nil {
		t.Errorf("a call without a photo reports %+v", p)
	}
}

// TestCompareRowsOfALimitedLink: the photo's and the link's rows appear
// only when some call had them, with null for a call that did not.
func TestCompareRowsOfALimitedLink(t *testing.T) {
	plain := Call{Mode: "walkie"}
	photoed := Call{Mode: "phone"}
	queued := 1603.0
	photoed.Summary.Photo = &Photo{Bytes: 200_000, InterruptionBehindPhotoMS: &queued}
	photoed.Summary.LinkBusyMS = &BusyMS{ClientToServer: 1606, ServerToClient: 6}
	rows := func(tb Table) map[string]Measure {
		out := map[string]Measure{}
		for _, m := range tb.Measures {
			out[m.Name] = m
		}
		return out
	}
	names := []string{"interruption_behind_photo_ms", "link_busy_client_to_server_ms", "link_busy_server_to_client_ms"}
	without := rows(Compare(plain, plain))
	for _, n := range names {
		if _, ok := without[n]; ok {
			t.Errorf("calls without a photo or a bandwidth have a %s row", n)
		}
	}
	unlimited := Call{Mode: "phone"}
	unlimited.Summary.Photo = &Photo{Bytes: 200_000} // no bandwidth: nothing queued, nothing to say
	if _, ok := rows(Compare(plain, unlimited))[names[0]]; ok {
		t.Errorf("a photo on a link without a bandwidth has a %s row", names[0])
	}
	with := rows(Compare(plain, photoed))
	for n, want := range map[string]float64{names[0]: 1603, names[1]: 1606, names[2]: 6} {
		m, ok := with[n]
		if !ok {
			t.Errorf("no %s row beside a call with a photo on a limited link", n)
			continue
		}
		if m.Values["phone"] != want || m.Values["walkie"] != nil {
			t.Errorf("%s: %v; want phone %v, walkie null", n, m.Values, want)
		}
	}
}
