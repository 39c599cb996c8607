package h1full

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// checkLines checks that every line of the script was sent and heard
// once, each side's in the script's order, and that a line the peer heard
// was heard in the order it was sent.
func checkLines(t *testing.T, tl *timeline.Timeline, s story.Script) {
	t.Helper()
	var said [2][]timeline.Message
	for _, m := range tl.Messages {
		if !m.Sent || !m.Heard {
			t.Errorf("the %s %q was not both sent and heard", m.Label, m.Text)
		}
		said[m.From] = append(said[m.From], m)
	}
	for side := range said {
		slices.SortFunc(said[side], func(a, b timeline.Message) int { return int(a.SentAt - b.SentAt) })
		for i := 1; i < len(said[side]); i++ {
			if said[side][i].HeardAt < said[side][i-1].HeardAt {
				t.Errorf("%q was heard before %q, sent before it", said[side][i].Text, said[side][i-1].Text)
			}
		}
	}
	var kid, want []string
	for _, m := range said[timeline.Client] {
		kid = append(kid, m.Label)
	}
	for _, c := range s.Cues() { // the question, the photo if any, the interruption and the goodbye
		want = append(want, c.Label)
	}
	if !slices.Equal(kid, want) {
		t.Errorf("the grandchild said %v, want %v", kid, want)
	}
	var told, others []string
	for _, m := range said[timeline.Server] {
		if m.Label == story.LabelStory {
			told = append(told, m.Text)
		} else if m.Label != story.LabelAnswer { // the answer falls anywhere in the story
			others = append(others, m.Label)
		}
	}
	if !slices.Equal(told, s.Story) {
		t.Errorf("grandma told %q, want %q", told, s.Story)
	}
	if want := []string{story.LabelAfterthought, story.LabelFarewell}; !slices.Equal(others, want) {
		t.Errorf("after her story grandma said %v, want %v", others, want)
	}
	if n := len(said[timeline.Server]); n != len(s.Story)+3 {
		t.Errorf("grandma said %d lines, want %d: the story, the answer, the afterthought and the farewell", n, len(s.Story)+3)
	}
}

// checkBytes checks that more crossed each way than the lines' text: the
// request's and the answer's heads and every chunk's framing.
func checkBytes(t *testing.T, res *result.Result) {
	t.Helper()
	payload := res.PayloadBytes()
	for side, wire := range res.WireBytes {
		if wire <= payload[side] {
			t.Errorf("%s sent %d bytes on the wire for %d bytes of lines; want more", timeline.Side(side), wire, payload[side])
		}
	}
}

// TestRealTCP plays the call on loopback and checks what full duplex over
// HTTP/1.1 means, with orderings and bounds that hold on a slow, busy
// machine.
func TestRealTCP(t *testing.T) {
	// Sentences every 50ms, each 60ms on the link: while the story is told
	// some sentence is always travelling, so the interruption, said
	// mid-story, is on the link with one.
	const latency = 60 * time.Millisecond
	s := calltest.Script(t, story.Options{Sentences: story.MaxSentences, Pace: 50 * time.Millisecond})
	res, err := call.Run(context.Background(), Mode(), call.Config{Script: s, Latency: latency})
	if err != nil {
		t.Fatal(err)
	}
	tl := res.Timeline
	checkLines(t, tl, s)
	checkBytes(t, res)
	lastSentence := calltest.Last(tl, story.LabelStory)
	// The answer streams down while the request is still being written:
	// the grandchild hears the story before her request has ended.
	if first, _ := tl.Message(story.LabelStory); first.HeardAt >= calltest.Said(t, tl, story.LabelGoodbye).SentAt {
		t.Errorf("the story's first sentence was heard at %v, after the goodbye ended the request", first.HeardAt)
	}
	i := calltest.Said(t, tl, story.LabelInterruption)
	if i.Waited() > s.Pace/2 {
		t.Errorf("the interruption waited %v; in full duplex it goes at once", i.Waited())
	}
	if flight := i.HeardAt - i.SentAt; flight < latency || flight > latency+250*time.Millisecond {
		t.Errorf("the interruption took %v to be heard; want about one latency (%v)", flight, latency)
	}
	if i.HeardAt >= lastSentence.SentAt {
		t.Errorf("grandma heard the interruption at %v, after the story ended at %v; she should hear it mid-story", i.HeardAt, lastSentence.SentAt)
	}
	if a := calltest.Said(t, tl, story.LabelAnswer); a.SentAt >= lastSentence.SentAt {
		t.Errorf("grandma answered at %v, after the story; she should answer mid-story", a.SentAt)
	}
	a := calltest.Said(t, tl, story.LabelAfterthought)
	if a.Waited() > 50*time.Millisecond {
		t.Errorf("the afterthought waited %v; nobody has to ask for it", a.Waited())
	}
	if after := a.HeardAfter(); after < latency || after > latency+250*time.Millisecond {
		t.Errorf("the afterthought was heard %v after she wanted to say it; want about one latency (%v)", after, latency)
	}
	if res.Connections != 1 {
		t.Errorf("connections: got %d, want 1", res.Connections)
	}
	if got := calltest.Fact(t, res, "requests"); got != 1 {
		t.Errorf("requests: got %v, want 1: the whole call is one request", got)
	}
}

// TestExactTimes plays the default call on the fake clock over an
// in-memory network.
func TestExactTimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := story.Default()
		res := calltest.InMemory(t, Mode(), s, 40*time.Millisecond)
		tl := res.Timeline
		checkLines(t, tl, s)
		checkBytes(t, res)
		// The question is wanted at once and waits for the TCP handshake
		// alone (a round trip): it follows the request's head at once,
		// with no other handshake.
		q := calltest.Said(t, tl, story.LabelQuestion)
		if q.WantedAt != 0 || q.Waited() != 80*time.Millisecond || q.Reason != timeline.ReasonConnecting || q.HeardAt != 120*time.Millisecond {
			t.Errorf("question wanted at %v, waited %v (%s), heard at %v; want 0, 80ms (%s), 120ms", q.WantedAt, q.Waited(), q.Reason, q.HeardAt, timeline.ReasonConnecting)
		}
		// Her story begins the moment she hears the question, a sentence
		// every 250ms.
		for k, m := range storyLines(tl) {
			if want := 120*time.Millisecond + time.Duration(k)*s.Pace; m.SentAt != want || m.HeardAt != want+40*time.Millisecond {
				t.Errorf("sentence %d sent at %v, heard at %v; want %v, %v", k+1, m.SentAt, m.HeardAt, want, want+40*time.Millisecond)
			}
		}
		i := calltest.Said(t, tl, story.LabelInterruption)
		if i.WantedAt != 600*time.Millisecond || i.SentAt != 600*time.Millisecond || i.HeardAt != 640*time.Millisecond {
			t.Errorf("interruption wanted/sent/heard at %v/%v/%v, want 600ms/600ms/640ms", i.WantedAt, i.SentAt, i.HeardAt)
		}
		if a := calltest.Said(t, tl, story.LabelAnswer); a.SentAt != 640*time.Millisecond || a.HeardAt != 680*time.Millisecond {
			t.Errorf("answer sent/heard at %v/%v, want 640ms/680ms", a.SentAt, a.HeardAt)
		}
		a := calltest.Said(t, tl, story.LabelAfterthought)
		if a.WantedAt != 2*time.Second || a.Waited() != 0 || a.HeardAfter() != 40*time.Millisecond {
			t.Errorf("afterthought wanted at %v, waited %v, heard %v after; want 2s, 0 and 40ms", a.WantedAt, a.Waited(), a.HeardAfter())
		}
		// The interruption travels from 600ms to 640ms, while the third
		// sentence (sent at 620ms) travels to 660ms: both ways at once.
		if got := tl.Overlap(); got != 20*time.Millisecond {
			t.Errorf("overlap: got %v, want 20ms: the interruption (600ms to 640ms) met a sentence (620ms to 660ms)", got)
		}
		if f := calltest.Said(t, tl, story.LabelFarewell); f.SentAt != 2640*time.Millisecond || f.HeardAt != 2680*time.Millisecond {
			t.Errorf("farewell sent/heard at %v/%v, want 2.64s/2.68s", f.SentAt, f.HeardAt)
		}
		if res.Connections != 1 || calltest.Fact(t, res, "requests") != 1 {
			t.Errorf("got %d connections and %v requests, want 1 and 1", res.Connections, calltest.Fact(t, res, "requests"))
		}
	})
}

// storyLines returns grandma's sentences, in the order she told them.
func storyLines(tl *timeline.Timeline) []timeline.Message {
	var lines []timeline.Message
	for _, m := range tl.Messages {
		if m.Label == story.LabelStory {
			lines = append(lines, m)
		}
	}
	return lines
}

// TestSlowLinkAfterthoughtFollowsTheStory: on a link so slow that the story
// is still being told at the afterthought's scripted time, grandma
// remembers the fair when her story is over, and the grandchild says
// goodbye only once she has heard all of it.
func TestSlowLinkAfterthoughtFollowsTheStory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := story.Default()
		res := calltest.InMemory(t, Mode(), s, time.Second)
		checkLines(t, res.Timeline, s)
		last := calltest.Last(res.Timeline, story.LabelStory)
		a := calltest.Said(t, res.Timeline, story.LabelAfterthought)
		if a.WantedAt != last.SentAt || a.WantedAt <= s.AfterthoughtAt || a.Waited() != 0 {
			t.Errorf("afterthought wanted at %v, waited %v; want right after the last sentence, sent at %v, and at once", a.WantedAt, a.Waited(), last.SentAt)
		}
		if bye := calltest.Said(t, res.Timeline, story.LabelGoodbye); bye.WantedAt < last.HeardAt {
			t.Errorf("goodbye wanted at %v, before the story's end was heard at %v", bye.WantedAt, last.HeardAt)
		}
	})
}

func TestCancel(t *testing.T) { calltest.Cancelled(t, Mode()) }

// grandmaServer serves grandma alone on loopback, hearing nothing for at
// most readWait; the test plays the grandchild by hand. The afterthought
// is scripted past the test's end.
func grandmaServer(t *testing.T, readWait time.Duration) (*httptest.Server, *timeline.Recorder) {
	t.Helper()
	return grandmaServerWith(t, readWait, story.Options{})
}

// grandmaServerWith is grandmaServer, with a script of options o (but for
// the afterthought's time).
func grandmaServerWith(t *testing.T, readWait time.Duration, o story.Options) (*httptest.Server, *timeline.Recorder) {
	t.Helper()
	o.AfterthoughtAt = time.Minute
	rec := timeline.NewRecorder(nil)
	s := calltest.Script(t, o)
	srv := httptest.NewServer(&Grandma{script: s, rec: rec, readWait: readWait, closeWait: closeWait})
	t.Cleanup(func() {
		srv.Close() // waits for her handlers to return
		rec.Finish()
	})
	return srv, rec
}

// handCall places a call to srv by hand: write sends what the test wants
// into the request body, then the answer is read to its end. It returns
// grandma's lines and her hang-up trailer.
func handCall(t *testing.T, srv *httptest.Server, write func(w *io.PipeWriter)) (lines []string, hangUp string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	body, w := io.Pipe()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+Path, body)
	if err != nil {
		t.Fatal(err)
	}
	written := make(chan struct{})
	go func() {
		defer close(written)
		write(w)
	}()
	defer func() {
		body.Close()
		<-written
	}()
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading grandma's answer: %v", err)
	}
	return lines, resp.Trailer.Get(TrailerHangUp)
}

// TestGrandmaHangsUpOnBadRequests: each request grandma cannot go on with
// ends her answer, with the reason in its trailer, and her handler
// returns (the server's Close waits for it, goleak checks the rest).
func TestGrandmaHangsUpOnBadRequests(t *testing.T) {
	srv, rec := grandmaServer(t, 300*time.Millisecond)
	s := calltest.Script(t, story.Options{AfterthoughtAt: time.Minute})
	ask := func(w *io.PipeWriter) {
		rec.Sent(rec.Want(timeline.Client, story.LabelQuestion, s.Question, ""))
		io.WriteString(w, s.Question+"\n")
	}
	for _, c := range []struct {
		name  string
		write func(w *io.PipeWriter)
		want  string
	}{
		{"a line too long", func(w *io.PipeWriter) {
			io.WriteString(w, strings.Repeat("x", call.MaxLine+1)+"\n")
		}, "a line may be at most 4096 bytes"},
		{"a line never sent", func(w *io.PipeWriter) { io.WriteString(w, "hello?\n") }, "grandma did not expect that line"},
		{"silence after the question", ask, "grandma heard nothing from you for 300ms"},
		{"no goodbye", func(w *io.PipeWriter) {
			ask(w)
			w.Close()
		}, "the request ended without a goodbye"},
		{"half a line", func(w *io.PipeWriter) {
			io.WriteString(w, "Grandma")
			w.Close()
		}, "the request ended in the middle of a line"},
	} {
		_, hangUp := handCall(t, srv, c.write)
		if hangUp != c.want {
			t.Errorf("%s: grandma hung up with %q, want %q", c.name, hangUp, c.want)
		}
	}
}

// TestGrandmaRefusesOtherRequests: only a POST to Path is a call, and
// she refuses anything else at once, even while its body is still open.
func TestGrandmaRefusesOtherRequests(t *testing.T) {
	srv, _ := grandmaServer(t, time.Second)
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{http.MethodPut, Path, http.StatusMethodNotAllowed},
		{http.MethodPost, "/elsewhere", http.StatusNotFound},
	} {
		body, w := io.Pipe()
		go io.WriteString(w, "a body that does not end\n")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, err := http.NewRequestWithContext(ctx, c.method, srv.URL+c.path, body)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		cancel()
		body.Close()
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s: got %d, want %d", c.method, c.path, resp.StatusCode, c.want)
		}
	}
}

// TestGrandchildLeftMidCall: a grandchild whose connection closes in the
// middle of the story ends grandma's handler at once.
func TestGrandchildLeftMidCall(t *testing.T) {
	srv, rec := grandmaServer(t, 10*time.Second)
	s := calltest.Script(t, story.Options{AfterthoughtAt: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	body, w := io.Pipe()
	defer body.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+Path, body)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		rec.Sent(rec.Want(timeline.Client, story.LabelQuestion, s.Question, ""))
		io.WriteString(w, s.Question+"\n")
	}()
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != s.Story[0]+"\n" {
		t.Fatalf("got %q, %v; want the first sentence", line, err)
	}
	start := time.Now()
	cancel() // the transport closes the connection
	resp.Body.Close()
	srv.Close() // returns once her handler has
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("grandma's handler took %v to notice the grandchild had gone", d)
	}
}

// badGrandma is a mode whose grandma misbehaves as serve says, and whose
// grandchild gives up on her silence after readWait.
func badGrandma(serve http.HandlerFunc, readWait time.Duration) call.Mode {
	m := Mode()
	m.Local = func(s *call.Session) call.Roles {
		kid := newGrandchild(s, "http://"+s.Addr()+Path)
		kid.readWait = readWait
		return call.Roles{Grandma: serve, Grandchild: kid.call}
	}
	return m
}

// pickUp answers the call's head at once, in full duplex, as grandma does.
func pickUp(w http.ResponseWriter) *http.ResponseController {
	rc := http.NewResponseController(w)
	rc.EnableFullDuplex()
	w.WriteHeader(http.StatusOK)
	rc.Flush()
	return rc
}

// TestGrandchildGivesUpOnBadAnswers: a grandma who goes silent, says a
// line too long, or drops the connection mid-call ends the call with an
// error that says so, promptly, leaving nothing running.
func TestGrandchildGivesUpOnBadAnswers(t *testing.T) {
	for _, c := range []struct {
		name  string
		serve http.HandlerFunc
		want  string
	}{
		{"silent", func(w http.ResponseWriter, r *http.Request) {
			pickUp(w)
			<-r.Context().Done()
		}, "grandma said nothing for 300ms"},
		{"silent before her answer", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}, "calling grandma: grandma said nothing for 300ms"},
		{"a line too long", func(w http.ResponseWriter, r *http.Request) {
			rc := pickUp(w)
			io.WriteString(w, strings.Repeat("x", call.MaxLine+1)+"\n")
			rc.Flush()
			<-r.Context().Done()
		}, "grandma said a line over 4096 bytes"},
		{"the connection dropped", func(w http.ResponseWriter, r *http.Request) {
			rc := pickUp(w)
			io.WriteString(w, "Once upon")
			rc.Flush()
			// The server closes the connection once it has stopped
			// reading the request, which it would read to its end.
			rc.SetReadDeadline(time.Now())
			panic(http.ErrAbortHandler)
		}, "hearing grandma: "}, // unexpected EOF, or a reset: the server had unread bytes
		{"hung up", func(w http.ResponseWriter, r *http.Request) {
			pickUp(w)
			w.Header().Set(http.TrailerPrefix+TrailerHangUp, "grandma had to go")
		}, "grandma hung up before her farewell: grandma had to go"},
		{"refused", func(w http.ResponseWriter, r *http.Request) {
			// In full duplex, or the server would read the whole request
			// before refusing it.
			http.NewResponseController(w).EnableFullDuplex()
			http.Error(w, "not today", http.StatusServiceUnavailable)
		}, "grandma answered the call with 503 Service Unavailable: not today"},
	} {
		start := time.Now()
		_, err := call.Run(context.Background(), badGrandma(c.serve, 300*time.Millisecond), call.Config{Script: story.Default()})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error saying %q", c.name, err, c.want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: the call took %v to end", c.name, d)
		}
	}
}
