package rawtcp

import (
	"context"
	"errors"
	"net"
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
)

// TestPhotoHoldsUpTheInterruption plays the call with a 200KB photo on a
// 1Mbit link, on the fake clock. The photo is one more line on the one
// connection, and the interruption, written right after it, crosses behind
// all of it: heard the photo's 1.6 s on the link and a latency after it was
// wanted, to the millisecond, while grandma's story keeps coming down.
func TestPhotoHoldsUpTheInterruption(t *testing.T) {
	const size, latency, rate = 200_000, 40 * time.Millisecond, 1 * link.Mbit
	s := calltest.Script(t, story.Options{Photo: size})
	synctest.Test(t, func(t *testing.T) {
		l := pipenet.Listen()
		res, err := call.Run(context.Background(), Mode(), call.Config{Script: s, Latency: latency, Bandwidth: rate, Listener: l, Dial: l.DialContext})
		if err != nil {
			t.Fatal(err)
		}
		checkLines(t, s, res.Timeline)
		checkBytes(t, res)
		checkPhoto(t, res, size, rate)
		// Nothing else holds it up: it goes on the link once the photo's
		// line has, and is heard a latency later.
		in := calltest.Said(t, res.Timeline, story.LabelInterruption)
		behind := rate.TimeFor(int64(size+1+len(s.Interruption)+1)) + latency
		t.Logf("the interruption was heard %v after it was wanted, %v after it was sent", in.HeardAfter(), in.HeardAt-in.SentAt)
		if got := in.HeardAt - in.SentAt; got < behind || got > behind+time.Millisecond {
			t.Errorf("the interruption was heard %v after it was sent; want %v: the photo's line and its own at %v, and the latency", got, behind, rate)
		}
	})
}

// TestPhotoOnRealTCP: on loopback, a photo of 100KB on a 2Mbit link, the
// script at twice its pace, holds up the interruption behind it while the
// story keeps coming, in orderings and bounds that hold on a busy machine.
func TestPhotoOnRealTCP(t *testing.T) {
	const size, latency, rate = 100_000, 20 * time.Millisecond, 2 * link.Mbit
	s := calltest.Script(t, story.Options{Photo: size, Speed: 2})
	res, err := call.Run(context.Background(), Mode(), call.Config{Script: s, Latency: latency, Bandwidth: rate})
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, s, res.Timeline)
	checkBytes(t, res)
	checkPhoto(t, res, size, rate)
	checkClosed(t, res.Timeline)
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
		t.Errorf("no sentence of the story was heard while the photo crossed, from %v to %v: the other way is free", p.SentAt, p.HeardAt)
	}
}

// TestPhotoBoundsTheGrandchildsLines: with a photo in the script, grandma
// reads a line of the grandchild's as long as the photo and no longer: a
// longer one ends the call, saying so, as any line too long does. She
// hears the photo without a word in reply, and the grandchild's own writer
// refuses a longer line; her reader of grandma's lines stays at
// call.MaxLine.
func TestPhotoBoundsTheGrandchildsLines(t *testing.T) {
	const size = 10_000 // over call.MaxLine
	s := calltest.Script(t, story.Options{Photo: size})
	for _, c := range []struct {
		name string
		do   func(conn *net.TCPConn, sent func(label, text string)) error
		want string
	}{
		{"a line over the photo's size", func(conn *net.TCPConn, _ func(string, string)) error {
			_, err := conn.Write([]byte(strings.Repeat("x", size+1) + "\n"))
			return err
		}, "dropped: a line over 10000 bytes"},
		{"a line of the photo's size", func(conn *net.TCPConn, _ func(string, string)) error {
			_, err := conn.Write([]byte(strings.Repeat("x", size) + "\n"))
			return err
		}, "dropped: a line that was never sent"},
		{"the photo", func(conn *net.TCPConn, sent func(string, string)) error {
			sent(story.LabelPhoto, s.Photo)
			_, err := conn.Write([]byte(s.Photo + "\n"))
			return err
		}, "dropped: the grandchild said nothing for 200ms"}, // she looked at it, and waited
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, sent, outcome := grandmaAloneWith(t, story.Options{Photo: size})
			if err := c.do(conn, sent); err != nil {
				t.Fatal(err)
			}
			if got := awaitOutcome(t, outcome); got != c.want {
				t.Errorf("outcome: got %q, want %q", got, c.want)
			}
		})
	}

	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if err := writeLine(a, strings.Repeat("x", s.MaxGrandchildLine(call.MaxLine)+1), s.MaxGrandchildLine(call.MaxLine)); err == nil || !strings.Contains(err.Error(), "at most 10000 bytes") {
		t.Errorf("the grandchild's writer, given a line over her photo's size: %v; want it refused", err)
	}

	tooLong := func(_ *call.Session, conn net.Conn) error {
		if err := readQuestion(conn); err != nil {
			return err
		}
		_, err := conn.Write([]byte(strings.Repeat("x", call.MaxLine+1) + "\n"))
		return err
	}
	_, err := call.Run(context.Background(), badGrandma(tooLong), call.Config{Script: s, Latency: 10 * time.Millisecond})
	if !errors.Is(err, errLineTooLong) || !strings.Contains(err.Error(), "a line over 4096 bytes") {
		t.Errorf("grandma said a line over call.MaxLine: got %v, want %v", err, lineTooLong{call.MaxLine})
	}
}
