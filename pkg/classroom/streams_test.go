package classroom_test

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/class"
	"github.com/duplexdemo/duplexdemo/pkg/classroom"
	"github.com/duplexdemo/duplexdemo/pkg/h1full"
	"github.com/duplexdemo/duplexdemo/pkg/h2"
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// streamModes are the calls over HTTP streams, with what handing a record
// of n bytes over takes as grandma writes it (the formula the client does
// not use: it finds the bytes where they crossed), and the fact each counts.
var streamModes = []struct {
	mode call.Mode
	// framing is what carrying a record of n bytes, and its newline, takes.
	framing func(n int) int
	fact    string
	want    float64
}{
	{h1full.Mode(), func(n int) int { // one chunk: its size in hex, CRLF, the line, CRLF
		n++
		return len(strconv.FormatInt(int64(n), 16)) + 2 + n + 2
	}, "requests", 1},
	{h2.Mode(), func(n int) int { // DATA frames of at most 16 KiB, each with a 9-byte header
		n++
		frames := (n + 16<<10 - 1) / (16 << 10)
		return 9*frames + n
	}, "streams", 2},
}

// TestStreamCalls: a call over HTTP/1.1 in full duplex and one over HTTP/2
// to grandma served alone play the whole script, both sides joined, with
// the interruption heard mid-story and the afterthought unasked; the bytes
// each way are what grandma's server read and wrote on the call's
// connection, less her record's hand-over, which the client found where it
// crossed; and the call, reported, is in the class with the same counts.
func TestStreamCalls(t *testing.T) {
	logs := &callLog{}
	taps := &tapListener{}
	room, _, err := class.Open(class.Options{Modes: classroom.ClassModes(), Script: classroom.ClassScript()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { room.Close() })
	base := serveTapped(t, taps, classroom.Config{Class: room, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	for i, tc := range streamModes {
		t.Run(tc.mode.Key, func(t *testing.T) {
			const latency = 10 * time.Millisecond
			student := class.NewName()
			res, err := call.RunRemote(context.Background(), tc.mode, call.Config{Script: calltest.Script(t, story.Options{Speed: remoteSpeed}), Latency: latency, Student: student}, base)
			if err != nil {
				t.Fatal(err)
			}
			tl := res.Timeline
			if err := complete(tl); err != nil {
				t.Fatal(err)
			}
			if _, ok := tl.Message(story.LabelAfterthought); !ok {
				t.Error("grandma's afterthought is missing")
			}
			// Both ways at once: grandma hears the interruption mid-story,
			// and says her afterthought without waiting for a request.
			lastStory := calltest.Last(tl, story.LabelStory)
			if in := calltest.Said(t, tl, story.LabelInterruption); in.HeardAt > lastStory.SentAt {
				t.Errorf("grandma heard the interruption at %v, after her last sentence at %v", in.HeardAt, lastStory.SentAt)
			}
			if a := calltest.Said(t, tl, story.LabelAfterthought); a.Reason == halfduplex.ReasonNoRequest {
				t.Errorf("the afterthought waited for a request")
			}
			if res.Connections != 1 || len(res.PerConnection) != 1 {
				t.Fatalf("%d connections (%d counted), want 1", res.Connections, len(res.PerConnection))
			}
			if got := calltest.Fact(t, res, tc.fact); got != tc.want {
				t.Errorf("%s: got %v, want %v", tc.fact, got, tc.want)
			}

			logged := logs.wait(t, tc.mode.Key, 1, 10*time.Second)[0]
			if logged.Outcome != "ok" {
				t.Errorf("grandma logged the call %q, want ok", logged.Outcome)
			}
			out := taps.written(res.PerConnection[0].ClientPort)
			record := recordIn(t, out)
			if record == nil {
				t.Fatal("grandma's record is not on the call's connection")
			}
			handOver := int64(tc.framing(len(record)))
			if got, want := res.WireBytes[timeline.Server], int64(len(out))-handOver; got != want {
				t.Errorf("server→client: the call reports %d bytes; grandma wrote %d, %d of them her record's hand-over: want %d", got, len(out), handOver, want)
			}
			if logged.BytesOut != int64(len(out)) {
				t.Errorf("grandma logged bytes_out %d; her server wrote %d on the call's connection", logged.BytesOut, len(out))
			}
			if got, want := res.WireBytes[timeline.Client], logged.BytesIn; got != want {
				t.Errorf("client→server: the call reports %d bytes, grandma read %d", got, want)
			}
			payload := res.PayloadBytes()
			for side, n := range res.WireBytes {
				if n <= payload[side] {
					t.Errorf("the %s sent %d bytes for %d bytes of lines; framing costs more", timeline.Side(side), n, payload[side])
				}
			}

			rec := room.Record()
			if len(rec.Calls) != i+1 {
				t.Fatalf("the class has %d calls, want %d", len(rec.Calls), i+1)
			}
			got := rec.Calls[i]
			if got.Student != student || got.Mode != tc.mode.Key || got.ID != res.Reported {
				t.Errorf("reported as %s %s call %d, want %s %s call %d", got.Student, got.Mode, got.ID, student, tc.mode.Key, res.Reported)
			}
			if b := got.Summary.Bytes; b.ClientToServer != res.WireBytes[timeline.Client] || b.ServerToClient != logged.BytesOut {
				t.Errorf("the class counts %d bytes up and %d down; want %d and %d", b.ClientToServer, b.ServerToClient, res.WireBytes[timeline.Client], logged.BytesOut)
			}
			facts := fmt.Sprint(got.Summary.Facts)
			if want := fmt.Sprint(calltest.Fact(t, res, tc.fact)); len(got.Summary.Facts) != 1 || got.Summary.Facts[0].Key != tc.fact || fmt.Sprint(got.Summary.Facts[0].Value) != want {
				t.Errorf("the class's facts: %s; want %s %s", facts, tc.fact, want)
			}
		})
	}
}
