package webtransport

import (
	"bufio"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	wt "github.com/quic-go/webtransport-go"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// calling opens a session to grandma, says the question on the call's
// stream and waits for her first sentence: the call's stream is hers, and
// any stream opened after it is an urgent line's.
func calling(t *testing.T, a *answering, rec *timeline.Recorder) (*wt.Session, *wt.Stream, *bufio.Reader) {
	t.Helper()
	sess, str := dialAlone(t, a)
	say(t, rec, str, story.LabelQuestion, story.Question)
	r := newLineReader(str)
	if err := str.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := readLine(r); err != nil {
		t.Fatalf("reading her first sentence: %v", err)
	}
	return sess, str, r
}

// say records a line of the grandchild's as sent, and writes it on str.
func say(t *testing.T, rec *timeline.Recorder, str *wt.Stream, label, text string) {
	t.Helper()
	rec.Sent(rec.Want(timeline.Client, label, text, ""))
	if err := writeLine(str, text, 0); err != nil {
		t.Fatal(err)
	}
}

// urgentStream opens a stream on sess and writes raw on it, then ends
// her side of it if end says so.
func urgentStream(t *testing.T, sess *wt.Session, raw string, end bool) *wt.Stream {
	t.Helper()
	str, err := sess.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := str.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	if end {
		if err := str.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return str
}

// resetWith reads str until grandma resets it, and returns her code.
func resetWith(t *testing.T, str *wt.Stream) wt.StreamErrorCode {
	t.Helper()
	if err := str.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err := io.Copy(io.Discard, str)
	var se *wt.StreamError
	if !errors.As(err, &se) || !se.Remote {
		t.Fatalf("the urgent stream ended with %v, not grandma resetting it", err)
	}
	return se.ErrorCode
}

// goodbye says the goodbye on the call's stream and reads grandma's lines
// until her side of it ends: the call ended as it should, her farewell
// last.
func goodbye(t *testing.T, rec *timeline.Recorder, str *wt.Stream, r *bufio.Reader) {
	t.Helper()
	say(t, rec, str, story.LabelGoodbye, story.Goodbye)
	last := ""
	for {
		if err := str.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		text, err := readLine(r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("after the goodbye: %v", err)
		}
		last = text
	}
	if last != story.Farewell {
		t.Errorf("grandma's last line was %q, want her farewell", last)
	}
}

// TestGrandmaAnswersOnTheUrgentStream: the interruption on a stream of its
// own is answered there, one line and the stream's end; a second urgent
// stream, past the script's one urgent line, is refused (streamTooMany),
// and the call goes on to its farewell.
func TestGrandmaAnswersOnTheUrgentStream(t *testing.T) {
	a, rec := grandmaAlone(t, 10*time.Second)
	sess, str, r := calling(t, a, rec)
	rec.Sent(rec.Want(timeline.Client, story.LabelInterruption, story.Interruption, ""))
	urgent := urgentStream(t, sess, story.Interruption+"\n", true)
	if err := urgent.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	answer, err := io.ReadAll(io.LimitReader(urgent, call.MaxLine))
	if err != nil || string(answer) != story.Answer+"\n" {
		t.Errorf("on the urgent stream grandma said %q (%v), want her answer and the stream's end", answer, err)
	}
	again := urgentStream(t, sess, story.Interruption+"\n", true)
	if code := resetWith(t, again); code != streamTooMany {
		t.Errorf("a second urgent stream was reset with %d, want %d", code, streamTooMany)
	}
	goodbye(t, rec, str, r)
}

// TestGrandmaRefusesBadUrgentStreams: each urgent stream grandma cannot
// take she resets with a code that says why, and the call goes on.
func TestGrandmaRefusesBadUrgentStreams(t *testing.T) {
	a, rec := grandmaAlone(t, 10*time.Second)
	for _, c := range []struct {
		name string
		raw  string
		code wt.StreamErrorCode
	}{
		{"too long", strings.Repeat("x", call.MaxLine+1) + "\n", streamTooLong},
		{"two lines", story.Interruption + "\n" + story.Interruption + "\n", streamNotALine},
		{"no newline", story.Interruption, streamNotALine},
		{"not urgent", story.Question + "\n", streamNotUrgent},
		{"not in the script", "nice weather\n", streamNotUrgent},
	} {
		t.Run(c.name, func(t *testing.T) {
			sess, str, r := calling(t, a, rec)
			if code := resetWith(t, urgentStream(t, sess, c.raw, true)); code != c.code {
				t.Errorf("reset with %d, want %d", code, c.code)
			}
			goodbye(t, rec, str, r)
		})
	}
}

// TestGrandmaRefusesASilentUrgentStream: an urgent stream that does not
// bring its whole line within her silence bound is reset (streamSilent),
// while the call's stream, which keeps talking, goes on.
func TestGrandmaRefusesASilentUrgentStream(t *testing.T) {
	const quiet = 600 * time.Millisecond
	a, rec := grandmaAlone(t, quiet)
	sess, str, r := calling(t, a, rec)
	urgent := urgentStream(t, sess, "Wait,", false)
	start := time.Now()
	var err error
	for time.Since(start) < 10*time.Second {
		// The question again, as often as the call's stream needs a line
		// to stay open: she goes on with the story she is telling.
		say(t, rec, str, story.LabelQuestion, story.Question)
		if err = urgent.SetReadDeadline(time.Now().Add(quiet / 4)); err != nil {
			t.Fatal(err)
		}
		_, err = urgent.Read(make([]byte, 1))
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
	}
	var se *wt.StreamError
	if !errors.As(err, &se) || !se.Remote || se.ErrorCode != streamSilent {
		t.Fatalf("the silent urgent stream ended with %v, want grandma resetting it with %d", err, streamSilent)
	}
	if d := time.Since(start); d < quiet/2 || d > quiet+2*time.Second {
		t.Errorf("reset after %v; want about %v", d, quiet)
	}
	goodbye(t, rec, str, r)
}

// TestRefusedSaysWhy: the grandchild says plainly why grandma reset an
// urgent line's stream, and passes any other error on.
func TestRefusedSaysWhy(t *testing.T) {
	err := refused(story.LabelInterruption, &wt.StreamError{ErrorCode: streamTooLong, Remote: true})
	if want := "grandma refused the interruption on a stream of its own (code 2): a line is at most 4096 bytes"; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	other := errors.New("the session is gone")
	if got := refused(story.LabelInterruption, other); got != other {
		t.Errorf("got %v, want %v", got, other)
	}
}
