package h1full

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// grandchild calls grandma with one request and keeps talking in its body
// while she hears grandma's answer.
type grandchild struct {
	script story.Script
	rec    *timeline.Recorder
	client *http.Client
	url    string
	// readWait bounds the silence between two of grandma's lines (and
	// before her answer begins).
	readWait time.Duration
	// closeWait bounds how long, once she has heard the farewell and the
	// end of grandma's answer, she waits for her own goodbye to be done.
	closeWait time.Duration
	// requests counts the requests whose head her transport has written.
	requests atomic.Int64
	// remote is set when grandma is elsewhere: her record of the call, the
	// last line of her answer, is kept there.
	remote *elsewhere
}

// elsewhere holds grandma's record of a call to her elsewhere.
type elsewhere struct {
	mu  sync.Mutex
	log []byte
}

// record returns grandma's record as she handed it over; nil if she did
// not.
func (e *elsewhere) record() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.log
}

// newGrandchild returns the grandchild, calling url through the call's
// emulated link on one connection.
func newGrandchild(s *call.Session, url string) *grandchild { return newGrandchildSlack(s, url, 1) }

// newGrandchildSlack is newGrandchild, with her bounds on grandma's first
// answer and on the end of the request multiplied by slack.
func newGrandchildSlack(s *call.Session, url string, slack time.Duration) *grandchild {
	tr := &http.Transport{
		DialContext:           s.DialContext,
		MaxConnsPerHost:       1, // one request, one connection, both ways at once
		MaxIdleConnsPerHost:   1,
		IdleConnTimeout:       s.Silence(call.IdleTimeout),
		ResponseHeaderTimeout: slack * (responseHeaderTimeout + s.RoundTrip()),
	}
	return &grandchild{
		script:    s.Script,
		rec:       s.Rec,
		client:    &http.Client{Transport: tr},
		url:       url,
		readWait:  s.Silence(readWait),
		closeWait: slack * (closeWait + s.RoundTrip()),
	}
}

// utterance is a line someone wants to say, and the message it was
// recorded as.
type utterance struct {
	id    timeline.MsgID
	label string
	text  string
}

func (c *grandchild) want(cue story.Cue, reason string) utterance {
	return utterance{c.rec.Want(timeline.Client, cue.Label, cue.Text, reason), cue.Label, cue.Text}
}

// errCallOver is what a line still being written into the request body
// meets when the call ends under it.
var errCallOver = errors.New("the call is over")

// errSilence is why the call is stopped when grandma has said nothing for
// readWait.
var errSilence = errors.New("grandma went silent")

// call places the call: one POST whose body is a pipe. She wants the
// question at once and each later line when the script says (think);
// speak writes them into the request body, as its only writer, while this
// goroutine reads grandma's answer, as its only reader. The goodbye ends
// the request body; the farewell ends grandma's answer.
func (c *grandchild) call(ctx context.Context) error {
	defer c.client.CloseIdleConnections() // the call is over: hang up
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	progress := story.NewProgress(c.script)
	cues := c.script.Cues()
	wants := make(chan utterance, len(cues))
	// The first line is wanted at once, before dialing.
	wants <- c.want(cues[0], timeline.ReasonConnecting)

	// The transport reads the request body from body as she writes her
	// lines into lines; it starts reading once it has written the request's
	// head (httptrace's WroteHeaders), and not before.
	body, lines := io.Pipe()
	opened := make(chan struct{})
	var openOnce sync.Once
	trace := &httptrace.ClientTrace{WroteHeaders: func() {
		c.requests.Add(1)
		openOnce.Do(func() { close(opened) })
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, c.url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	if c.remote != nil {
		req.Header.Set(wire.HeaderVersion, strconv.Itoa(wire.Version))
	}

	// When the call ends or is stopped, the body ends too: the transport's
	// writer, blocked reading it, lets go of the connection (a cancelled
	// request waits for it), and a line still being handed over is not
	// taken. The call's end always cancels ctx, so ended is always closed.
	ended := make(chan struct{})
	context.AfterFunc(ctx, func() {
		body.CloseWithError(errCallOver)
		close(ended)
	})
	var wg sync.WaitGroup
	wg.Go(func() { c.think(ctx, cues[1:], progress, wants) })
	spoke := make(chan error, 1)
	wg.Go(func() { spoke <- c.speak(ctx, lines, wants, opened) })
	defer func() {
		cancel(nil)
		<-ended
		wg.Wait()
	}()

	// Grandma must be heard from within readWait, from the start: her
	// answer's head, and then each of her lines.
	silent := time.AfterFunc(c.readWait, func() { cancel(errSilence) })
	defer silent.Stop()
	resp, err := c.client.Do(req)
	if err != nil {
		return c.broke(ctx, "calling grandma", err)
	}
	defer resp.Body.Close()
	if c.remote != nil {
		if v := resp.Header.Get(wire.HeaderVersion); v == "" {
			return fmt.Errorf("%s is not duplexdemo serve: it answered the call with %s", req.URL.Host, resp.Status)
		} else if err := wire.CheckVersion(v, "server"); err != nil {
			return err
		}
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return fmt.Errorf("grandma answered the call with %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	// Her answer has begun while the request is still being written: from
	// now on both ways are open.
	c.rec.Record(timeline.Client, timeline.KindConnect, "grandma's answer has begun: both ways are open")
	if err := c.listen(ctx, resp, silent, progress); err != nil {
		return err
	}
	// She heard the farewell, so grandma heard the goodbye: her side of the
	// request is ending, if it has not ended already.
	t := time.NewTimer(c.closeWait)
	defer t.Stop()
	select {
	case err := <-spoke:
		return err
	case <-t.C:
		return fmt.Errorf("the request did not end within %v of grandma's farewell", c.closeWait)
	}
}

// broke says why the call broke off while doing what: grandma's silence,
// if that is why it was stopped, or err.
func (c *grandchild) broke(ctx context.Context, doing string, err error) error {
	if errors.Is(context.Cause(ctx), errSilence) {
		return fmt.Errorf("%s: grandma said nothing for %v", doing, c.readWait.Round(time.Millisecond))
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// think wants each later line of her schedule at its time, but not before
// the story has reached its milestone on her side of the link, whatever
// the writer is doing, and hands them to speak in order.
func (c *grandchild) think(ctx context.Context, cues []story.Cue, progress *story.Progress, wants chan<- utterance) {
	defer close(wants)
	for _, cue := range cues {
		if c.rec.Await(ctx, cue.At, progress.Reached(cue.After)) != nil {
			return
		}
		wants <- c.want(cue, timeline.ReasonChannelBusy) // buffered for every line: never blocks
	}
}

// speak is the only goroutine that writes the request body. It waits until
// the transport has written the request's head and reads the body; then
// it says each line the moment it is wanted, and the transport writes it as
// one chunk and flushes it (her photo as a few, one for each 32KB the
// transport reads of the body at a time). After the goodbye it ends the
// body: she has hung up.
//
// A write returns once the transport has taken the line and written it on
// the connection, where the link queues it; the next line queues behind
// it there, the interruption behind the photo, while grandma's answer,
// read by another goroutine, keeps coming. If the transport stops taking
// lines (its connection is gone), the call's end unblocks it.
func (c *grandchild) speak(ctx context.Context, lines *io.PipeWriter, wants <-chan utterance, opened <-chan struct{}) error {
	select {
	case <-opened:
	case <-ctx.Done():
		return ctx.Err()
	}
	for {
		select {
		case u, ok := <-wants:
			if !ok {
				return ctx.Err() // think gave up: the call is being stopped
			}
			c.rec.Sent(u.id)
			if _, err := io.WriteString(lines, u.text+"\n"); err != nil {
				return fmt.Errorf("saying the %s: %w", u.label, err)
			}
			if u.label == story.LabelGoodbye {
				return lines.Close() // the request body's last chunk
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// listen reads grandma's answer line by line, recording each line when
// all of it has arrived, until the answer ends after her farewell (and,
// from a grandma elsewhere, her record). Each line heard restarts the
// silence timer. If the answer ends before the farewell, her trailer says
// why (TrailerHangUp).
func (c *grandchild) listen(ctx context.Context, resp *http.Response, silent *time.Timer, progress *story.Progress) error {
	answer, lineMax := call.MaxAnswer, call.MaxLine
	if c.remote != nil {
		answer, lineMax = call.MaxAnswer+wire.MaxRecord+1, wire.MaxRecord // her record ends it
	}
	br := bufio.NewReaderSize(io.LimitReader(resp.Body, int64(answer)+1), lineMax+1)
	total := 0
	farewell := false
	for {
		line, err := br.ReadSlice('\n')
		if total += len(line); total > answer {
			return fmt.Errorf("grandma's answer ran over %d bytes", answer)
		}
		switch {
		case err == nil:
		case errors.Is(err, bufio.ErrBufferFull):
			return fmt.Errorf("grandma said a line over %d bytes", lineMax)
		case err == io.EOF && len(line) > 0:
			return fmt.Errorf("grandma's answer ended in the middle of a line: %q", line)
		case err == io.EOF && farewell && c.remote != nil && c.remote.record() == nil:
			return errors.New("grandma's answer ended without her record of the call")
		case err == io.EOF && farewell:
			return nil
		case err == io.EOF:
			if why := resp.Trailer.Get(TrailerHangUp); why != "" {
				return fmt.Errorf("grandma hung up before her farewell: %s", why)
			}
			return errors.New("grandma's answer ended before her farewell")
		default:
			return c.broke(ctx, "hearing grandma", err)
		}
		silent.Reset(c.readWait)
		text := string(line[:len(line)-1])
		if farewell && c.remote != nil && strings.HasPrefix(text, wire.RecordPrefix) && c.remote.record() == nil {
			c.remote.mu.Lock()
			c.remote.log = []byte(text)
			c.remote.mu.Unlock()
			continue
		}
		if farewell {
			return errors.New("grandma said more after her farewell")
		}
		if len(text) > call.MaxLine {
			return fmt.Errorf("grandma said a line over %d bytes", call.MaxLine)
		}
		m, err := c.rec.Heard(timeline.Server, text)
		if err != nil {
			return err
		}
		progress.Heard(m.Label)
		farewell = m.Label == story.LabelFarewell
	}
}
