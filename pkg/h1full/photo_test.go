package h1full

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/internal/pipenet"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/link"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// TestPhotoHoldsUpTheInterruption plays the call with a 200KB photo on a
// 1Mbit link, on the fake clock. The photo is one more line of the request
// body, and the interruption, the next chunk, crosses behind all of it:
// heard the photo's 1.6 s on the link and a latency after it was sent,
// while grandma's answer keeps streaming down.
func TestPhotoHoldsUpTheInterruption(t *testing.T) {
	const size, latency, rate = 200_000, 40 * time.Millisecond, 1 * link.Mbit
	s := calltest.Script(t, story.Options{Photo: size})
	synctest.Test(t, func(t *testing.T) {
		l := pipenet.Listen()
		res, err := call.Run(context.Background(), Mode(), call.Config{Script: s, Latency: latency, Bandwidth: rate, Listener: l, Dial: l.DialContext})
		if err != nil {
			t.Fatal(err)
		}
		checkLines(t, res.Timeline, s)
		checkBytes(t, res)
		checkPhoto(t, res, size, rate)
		// Nothing else holds it up: it goes on the link once the photo's
		// chunks have, and is heard a latency later. The chunks' framing
		// adds a few bytes each, well under 2ms at 1Mbit.
		in := calltest.Said(t, res.Timeline, story.LabelInterruption)
		behind := rate.TimeFor(int64(size+1+len(s.Interruption)+1)) + latency
		t.Logf("the interruption was heard %v after it was wanted, %v after it was sent", in.HeardAfter(), in.HeardAt-in.SentAt)
		if got := in.HeardAt - in.SentAt; got < behind || got > behind+2*time.Millisecond {
			t.Errorf("the interruption was heard %v after it was sent; want %v: the photo's line and its own at %v and their chunks' framing, and the latency", got, behind, rate)
		}
	})
}

// TestPhotoOnRealTCP: on loopback, a photo of 100KB on a 2Mbit link, the
// script at twice its pace, holds up the interruption behind it in the
// request body while the answer keeps coming, in orderings and bounds that
// hold on a busy machine.
func TestPhotoOnRealTCP(t *testing.T) {
	const size, latency, rate = 100_000, 20 * time.Millisecond, 2 * link.Mbit
	s := calltest.Script(t, story.Options{Photo: size, Speed: 2})
	res, err := call.Run(context.Background(), Mode(), call.Config{Script: s, Latency: latency, Bandwidth: rate})
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, res.Timeline, s)
	checkBytes(t, res)
	checkPhoto(t, res, size, rate)
	if res.Connections != 1 || calltest.Fact(t, res, "requests") != 1 {
		t.Errorf("got %d connections and %v requests, want 1 and 1: the photo is one more line of the one request", res.Connections, calltest.Fact(t, res, "requests"))
	}
}

// checkPhoto: the photo of size bytes as in every mode (calltest.Photo);
// the interruption heard after it, no sooner than the photo takes on the
// link at rate (less a generous margin) after it was wanted
// (calltest.HeldUpByPhoto); and grandma's story kept coming while the
// photo crossed.
func checkPhoto(t *testing.T, res *result.Result, size int, rate link.Rate) {
	t.Helper()
	p := calltest.Photo(t, res, size)
	calltest.HeldUpByPhoto(t, res, time.Duration(float64(rate.TimeFor(int64(size)))*0.85))
	told := 0
	for _, m := range res.Timeline.Messages {
		if m.Label == story.LabelStory && m.HeardAt > p.SentAt && m.HeardAt < p.HeardAt {
			told++
		}
	}
	if told == 0 {
		t.Errorf("no sentence of the story was heard while the photo crossed, from %v to %v: the answer streams down meanwhile", p.SentAt, p.HeardAt)
	}
}

// TestPhotoBoundsTheGrandchildsLines: with a photo in the script, grandma
// reads a line of the request as long as the photo and no longer: a longer
// one ends the call, her trailer saying so, as any line too long does. She
// hears the photo without a word in reply. The grandchild's reader of
// grandma's lines stays at call.MaxLine.
func TestPhotoBoundsTheGrandchildsLines(t *testing.T) {
	const size = 10_000 // over call.MaxLine
	srv, rec := grandmaServerWith(t, 300*time.Millisecond, story.Options{Photo: size})
	s := calltest.Script(t, story.Options{Photo: size})
	for _, c := range []struct {
		name  string
		write func(w *io.PipeWriter)
		want  string
	}{
		{"a line over the photo's size", func(w *io.PipeWriter) {
			io.WriteString(w, strings.Repeat("x", size+1)+"\n")
		}, "a line may be at most 10000 bytes"},
		{"a line of the photo's size", func(w *io.PipeWriter) {
			io.WriteString(w, strings.Repeat("x", size)+"\n")
		}, "grandma did not expect that line"},
		{"the photo", func(w *io.PipeWriter) {
			rec.Sent(rec.Want(timeline.Client, story.LabelPhoto, s.Photo, ""))
			io.WriteString(w, s.Photo+"\n")
		}, "grandma heard nothing from you for 300ms"}, // she looked at it, and waited
	} {
		lines, hangUp := handCall(t, srv, c.write)
		if hangUp != c.want || len(lines) != 0 {
			t.Errorf("%s: grandma said %q and hung up with %q; want nothing, and %q", c.name, lines, hangUp, c.want)
		}
	}

	tooLong := func(w http.ResponseWriter, r *http.Request) {
		rc := pickUp(w)
		io.WriteString(w, strings.Repeat("x", call.MaxLine+1)+"\n")
		rc.Flush()
		<-r.Context().Done()
	}
	_, err := call.Run(context.Background(), badGrandma(tooLong, 300*time.Millisecond), call.Config{Script: s})
	if want := "grandma said a line over 4096 bytes"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("grandma said a line over call.MaxLine: got %v, want an error saying %q", err, want)
	}
}
