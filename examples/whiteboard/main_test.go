package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duplexdemo/duplexdemo/examples/internal/relay"
	"github.com/duplexdemo/duplexdemo/pkg/link"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestImageHoldsUp draws with every transport at once and checks what the
// README says. Every stroke and the image arrive, whole. Whatever the
// transport, the image takes its time on each link, and Ann's strokes drawn
// after it wait behind it: the first reaches the server no sooner than
// most of image·8/rate after the paste, and Bob sees the image no sooner
// than most of twice that (the link's model makes both exact lower bounds;
// "most" leaves room for nothing but rounding). Pushed, the other direction
// stays free: Bob's strokes reach Ann while her image goes up, and the
// server while it comes down to him, sooner at worst than by polling or
// long polling, where the next request waits for the image.
func TestImageHoldsUp(t *testing.T) {
	o := options{latency: 20 * time.Millisecond, every: 200 * time.Millisecond, bandwidth: link.Mbit, image: 100 * link.KB,
		strokes: 15, pasteAt: 500 * time.Millisecond, seed: 1}
	onLink := o.bandwidth.TimeFor(int64(o.image)) // 800ms
	results, err := runAll(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	byTransport := map[relay.Transport]result{}
	for _, r := range results {
		t.Log(r)
		byTransport[r.transport] = r
		if r.received["ann"] != o.strokes || r.received["bob"] != o.strokes+1 {
			t.Errorf("%s: ann received %d of bob's %d strokes, bob %d of ann's %d strokes and image", r.transport, r.received["ann"], o.strokes, r.received["bob"], o.strokes+1)
		}
		if r.imageSize != int(o.image) {
			t.Errorf("%s: bob received an image of %d bytes, want %d", r.transport, r.imageSize, o.image)
		}
		if up := r.imageUp - r.paste; up < onLink*9/10 {
			t.Errorf("%s: the image reached the server %v after the paste; its link takes %v", r.transport, up, onLink)
		}
		if down := r.imageDown - r.paste; down < 2*onLink*9/10 {
			t.Errorf("%s: bob saw the image %v after the paste; its two links take %v", r.transport, down, 2*onLink)
		}
		if len(r.behindUp) == 0 || len(r.bobToAnn) == 0 || len(r.bobUp) == 0 {
			t.Fatalf("%s: %d of ann's strokes behind the image, %d of bob's while it went up, %d while it came down; want some of each", r.transport, len(r.behindUp), len(r.bobToAnn), len(r.bobUp))
		}
		// The first stroke after the paste is drawn at most a stroke's
		// period after it.
		if first := r.behindUp[0]; first < onLink*9/10-strokeEvery {
			t.Errorf("%s: ann's first stroke after the image reached the server %v after she drew it; behind %v of image", r.transport, first, onLink)
		}
	}
	push := byTransport[relay.Push]
	for _, tr := range []relay.Transport{relay.Poll, relay.LongPoll} {
		other := byTransport[tr]
		if p, o := percentile(push.bobToAnn, 1), percentile(other.bobToAnn, 1); p >= o {
			t.Errorf("bob's strokes while the image went up reached ann after up to %v pushed, %v by %s; want push sooner", p, o, tr)
		}
		if p, o := percentile(push.bobUp, 1), percentile(other.bobUp, 1); p >= o {
			t.Errorf("bob's strokes while the image came down reached the server after up to %v pushed, %v by %s; want push sooner", p, o, tr)
		}
	}
	var out bytes.Buffer
	print(&out, o, results)
	for _, want := range []string{"Ann's strokes behind it", "push", "longpoll"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output lacks %q:\n%s", want, out.String())
		}
	}
}
