package halfduplex

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// grandchild calls grandma over HTTP. Every line is a request on the one
// connection the transport may open; a request made while another is still
// being answered waits inside the transport for the connection.
type grandchild struct {
	script story.Script
	rec    *timeline.Recorder
	client *http.Client
	url    string
	// hearing is held while an answer is being heard. The transport hands
	// the connection to the next request the instant the answer's last
	// byte arrives; the grandchild lets go of the talk button only once
	// she has heard that last line too (microseconds later), so that her
	// next line never goes out before the last one she heard.
	hearing sync.Mutex
	// remote is set when grandma is elsewhere.
	remote *elsewhere
}

// elsewhere is what a call to a grandma elsewhere adds to each request:
// the protocol version and the call's id, and on the question the script;
// and what it takes from her last answer: her record of the call.
type elsewhere struct {
	callID string
	script url.Values

	mu  sync.Mutex
	log []byte
}

// call plays the grandchild's part: each line of her schedule when she
// wants to say it, but not before the story has reached its milestone on
// her side of the link, nor before the line before it has the channel. A
// line waits for its answer, so each has a goroutine of its own. Having
// heard the farewell, she hangs up.
func (c *grandchild) call(ctx context.Context) error {
	defer c.client.CloseIdleConnections() // the connection is idle now: hang up
	progress := story.NewProgress(c.script)
	g, ctx := errgroup.WithContext(ctx)
	// wanted[i] is closed once line i is wanted, and onAir[i] once it has
	// the channel (httptrace's GotConn): on a loaded machine a goroutine
	// may run late, and no line may be wanted before, nor overtake, the
	// one before it. A line wanted while the one before it still waits
	// (the interruption, wanted with the photo) waits behind it.
	cues := c.script.Cues()
	wanted, onAir := make([]chan struct{}, len(cues)), make([]chan struct{}, len(cues))
	for i := range cues {
		wanted[i], onAir[i] = make(chan struct{}), make(chan struct{})
	}
	for i, cue := range cues {
		g.Go(func() error {
			if err := c.rec.Await(ctx, cue.At, progress.Reached(cue.After)); err != nil {
				return err
			}
			reason := timeline.ReasonChannelBusy
			if i == 0 {
				reason = timeline.ReasonConnecting
			} else if err := await(ctx, wanted[i-1]); err != nil {
				return err
			}
			id := c.rec.Want(timeline.Client, cue.Label, cue.Text, reason)
			close(wanted[i])
			if i > 0 {
				if err := await(ctx, onAir[i-1]); err != nil {
					return err
				}
			}
			return c.say(ctx, id, cue, progress, onAir[i])
		})
	}
	return g.Wait()
}

// await waits until c is closed, or ctx ends.
func await(ctx context.Context, c <-chan struct{}) error {
	select {
	case <-c:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// say sends one line, wanted as id, as a request and hears every line of
// the answer. The line counts as sent when the transport hands the request
// a connection (httptrace's GotConn): until then, it is waiting for the
// channel.
func (c *grandchild) say(ctx context.Context, id timeline.MsgID, cue story.Cue, progress *story.Progress, onAir chan<- struct{}) error {
	label, text := cue.Label, cue.Text
	var once sync.Once
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) {
		c.hearing.Lock() // hooks run before the request is written
		c.rec.Sent(id)
		c.hearing.Unlock()
		once.Do(func() { close(onAir) }) // the next line may go now
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, c.url, strings.NewReader(text))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	if c.remote != nil {
		req.Header.Set(wire.HeaderVersion, strconv.Itoa(wire.Version))
		req.Header.Set(wire.HeaderCall, c.remote.callID)
		if label == story.LabelQuestion {
			req.URL.RawQuery = c.remote.script.Encode()
		}
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("saying the %s: %w", label, err)
	}
	defer resp.Body.Close()
	if c.remote != nil && resp.Header.Get(wire.HeaderVersion) == "" {
		return fmt.Errorf("%s is not duplexdemo serve: it answered the %s with %s", req.URL.Host, label, resp.Status)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return fmt.Errorf("grandma answered the %s with %s: %s", label, resp.Status, strings.TrimSpace(string(msg)))
	}
	if c.remote != nil {
		if err := wire.CheckVersion(resp.Header.Get(wire.HeaderVersion), "server"); err != nil {
			return err
		}
	}
	return c.hear(resp.Body, progress)
}

// hear reads grandma's answer line by line, recording each line when all of
// it has arrived.
func (c *grandchild) hear(body io.Reader, progress *story.Progress) error {
	c.hearing.Lock()
	defer c.hearing.Unlock()
	limit := int64(call.MaxAnswer)
	if c.remote != nil {
		limit += wire.MaxRecord
	}
	br := bufio.NewReaderSize(io.LimitReader(body, limit), call.MaxLine)
	for {
		line, err := br.ReadString('\n')
		if c.remote != nil && strings.HasPrefix(line, wire.RecordPrefix) && strings.HasSuffix(line, "\n") {
			c.remote.mu.Lock()
			c.remote.log = []byte(strings.TrimSuffix(line, "\n"))
			c.remote.mu.Unlock()
		} else if strings.HasSuffix(line, "\n") {
			m, herr := c.rec.Heard(timeline.Server, strings.TrimSuffix(line, "\n"))
			if herr != nil {
				return herr
			}
			progress.Heard(m.Label)
		} else if line != "" {
			return fmt.Errorf("grandma's answer ended in the middle of a line: %q", line)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("hearing grandma: %w", err)
		}
	}
}
