package workarounds

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/link"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// grandchild polls grandma on a timer and posts her own lines when the
// script wants them said.
type grandchild struct {
	script   story.Script
	rec      *timeline.Recorder
	client   *http.Client
	base     string
	every    time.Duration
	streamed bool
	progress *story.Progress // follows the story as she hears it
	// hearing, when polling on the one connection, is held while an
	// answer is being heard. The transport hands the connection to the
	// next request the instant the answer's last byte arrives; the
	// grandchild sends her next line only once she has heard that last
	// line too (microseconds later), as on the walkie-talkie.
	hearing *sync.Mutex

	// farewell is closed when she has heard grandma's farewell.
	farewell     chan struct{}
	farewellOnce sync.Once

	mu         sync.Mutex
	requests   int
	empty      int
	emptyBytes int64
}

func (c *grandchild) counts() (requests, empty int, emptyBytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests, c.empty, c.emptyBytes
}

// call plays her part: the question at once, then a poll every c.every
// until she has heard the farewell, and the interruption and the goodbye
// when the script says, but not before the story has begun, or ended, on
// her side.
func (c *grandchild) call(ctx context.Context) error {
	c.farewell = make(chan struct{})
	c.progress = story.NewProgress(c.script)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	// Her first line is wanted when the schedule says, before any
	// connection is open: opening them is what it waits for.
	cues := c.script.Cues()
	if err := c.rec.Await(ctx, cues[0].At, c.progress.Reached(cues[0].After)); err != nil {
		return err
	}
	first := c.rec.Want(timeline.Client, cues[0].Label, cues[0].Text, timeline.ReasonConnecting)
	if c.streamed {
		// A page opens its event stream first, and speaks once it is open.
		open := make(chan struct{})
		g.Go(func() error { return c.listen(ctx, open) })
		select {
		case <-open:
		case <-ctx.Done():
			return g.Wait()
		}
	}
	// Her first line goes before anything else; the rest, one after
	// another, when the schedule says.
	if err := c.post(ctx, first, cues[0]); err != nil {
		cancel()
		_ = g.Wait() // the stream ends with the context; the question's error says more
		return err
	}
	if !c.streamed {
		g.Go(func() error { return c.poll(ctx) })
	}
	g.Go(func() error {
		// Each line is wanted when the schedule says, and posted once the
		// line before it has been answered, one post at a time: a line
		// wanted while the one before it is still waiting or crossing
		// (the interruption, wanted with the photo) waits behind it, in a
		// goroutine of its own.
		answered := make(chan struct{})
		close(answered) // the question's: it has been
		for _, cue := range cues[1:] {
			if err := c.rec.Await(ctx, cue.At, c.progress.Reached(cue.After)); err != nil {
				return err
			}
			id := c.rec.Want(timeline.Client, cue.Label, cue.Text, timeline.ReasonChannelBusy)
			before, done := answered, make(chan struct{})
			g.Go(func() error {
				select {
				case <-before:
				case <-ctx.Done():
					return ctx.Err()
				}
				if err := c.post(ctx, id, cue); err != nil {
					return err
				}
				close(done)
				return nil
			})
			answered = done
		}
		return nil
	})
	err := g.Wait()
	c.client.CloseIdleConnections() // hang up
	return err
}

// pollSkew is how long after each tick a poll goes: a line the script wants
// at the very moment of a tick goes first, so that on the fake clock the
// order of the two is always the same, not the scheduler's choice.
const pollSkew = time.Microsecond

// poll asks grandma for anything new every c.every, counting the polls
// that bring nothing and what they cost, until the farewell is heard.
func (c *grandchild) poll(ctx context.Context) error {
	for {
		// A poll at each tick of a timer that started with the call, as a
		// page's setInterval does (a tick missed while a poll was under way
		// is skipped), or, long polling (c.every 0), the next the moment
		// the last is answered.
		if c.every > 0 {
			if err := c.rec.SleepUntil(ctx, (c.rec.Now()/c.every+1)*c.every+pollSkew); err != nil {
				return err
			}
		}
		// What this poll cost on the link, counted on its own connection:
		// its request, from taking the connection to the first byte of the
		// answer (by then every byte of it has crossed: grandma answered),
		// and its answer, from taking the connection to its end. Nothing
		// else uses the connection in between: HTTP/1.1 answers one request
		// at a time.
		var conn atomic.Pointer[link.Counted]
		var wroteFrom, wroteTo, readFrom atomic.Int64
		trace := &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) {
				if lc, ok := info.Conn.(link.Counted); ok {
					conn.Store(&lc)
					wroteFrom.Store(lc.BytesWritten())
					readFrom.Store(lc.BytesRead())
				}
			},
			GotFirstResponseByte: func() {
				if lc := conn.Load(); lc != nil {
					wroteTo.Store((*lc).BytesWritten())
				}
			},
		}
		var readTo int64
		heard, err := c.request(httptrace.WithClientTrace(ctx, trace), http.MethodGet, PollPath, "", func() {
			if lc := conn.Load(); lc != nil {
				readTo = (*lc).BytesRead()
			}
		})
		if err != nil {
			return fmt.Errorf("polling: %w", err)
		}
		c.mu.Lock()
		c.requests++
		if heard == 0 {
			c.empty++
			c.emptyBytes += wroteTo.Load() - wroteFrom.Load() + readTo - readFrom.Load()
		}
		c.mu.Unlock()
		select {
		case <-c.farewell:
			return nil
		default:
		}
	}
}

// listen opens grandma's event stream and hears each line on it, until
// the farewell.
func (c *grandchild) listen(ctx context.Context, open chan<- struct{}) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+EventsPath, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("opening grandma's event stream: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return fmt.Errorf("grandma answered the event stream with %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	c.mu.Lock()
	c.requests++
	c.mu.Unlock()
	close(open)
	br := bufio.NewReaderSize(io.LimitReader(resp.Body, call.MaxAnswer), call.MaxLine)
	var data []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if err == io.EOF {
				return errors.New("grandma's event stream ended before her farewell")
			}
			return fmt.Errorf("hearing grandma: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		case line == "" && data != nil: // the event is complete
			m, err := c.rec.Heard(timeline.Server, strings.Join(data, "\n"))
			if err != nil {
				return err
			}
			data = nil
			c.progress.Heard(m.Label)
			if m.Label == story.LabelFarewell {
				// Grandma ends the stream after her farewell: read to its
				// end, so that its connection is free to hang up.
				_, _ = io.Copy(io.Discard, br)
				return nil
			}
		}
	}
}

// post posts a line already wanted as id. It counts as sent when the
// transport hands the request a connection: until then a poll, or the
// line before it, has the connection, or it is opening.
func (c *grandchild) post(ctx context.Context, id timeline.MsgID, cue story.Cue) error {
	label, text := cue.Label, cue.Text
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) {
		if c.hearing != nil {
			c.hearing.Lock() // hooks run before the request is written
			defer c.hearing.Unlock()
		}
		c.rec.Sent(id)
	}}
	_, err := c.request(httptrace.WithClientTrace(ctx, trace), http.MethodPost, SayPath, text, nil)
	if err != nil {
		return fmt.Errorf("saying the %s: %w", label, err)
	}
	c.mu.Lock()
	c.requests++
	c.mu.Unlock()
	return nil
}

// request makes one request and hears every line of its answer, returning
// how many there were. ended, if not nil, is called the moment the answer
// has been read to its end, before the connection can take another request.
func (c *grandchild) request(ctx context.Context, method, path, body string, ended func()) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return 0, fmt.Errorf("grandma answered %s", strings.TrimSpace(resp.Status+": "+string(msg)))
	}
	if c.hearing != nil {
		c.hearing.Lock()
		defer c.hearing.Unlock()
	}
	br := bufio.NewReaderSize(io.LimitReader(resp.Body, call.MaxAnswer), call.MaxLine)
	heard := 0
	for {
		line, err := br.ReadString('\n')
		if strings.HasSuffix(line, "\n") {
			m, herr := c.rec.Heard(timeline.Server, strings.TrimSuffix(line, "\n"))
			if herr != nil {
				return heard, herr
			}
			heard++
			c.progress.Heard(m.Label)
			if m.Label == story.LabelFarewell {
				c.farewellOnce.Do(func() { close(c.farewell) })
			}
		} else if line != "" {
			return heard, fmt.Errorf("grandma's answer ended in the middle of a line: %q", line)
		}
		if err == io.EOF {
			if ended != nil {
				ended()
			}
			return heard, nil
		}
		if err != nil {
			return heard, fmt.Errorf("hearing grandma: %w", err)
		}
	}
}
