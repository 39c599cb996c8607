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
	// progress follows the story as she hears it.
	progress *story.Progress
	// interrupting is closed once the interruption has the channel
	// (httptrace's GotConn): the goodbye never goes before it.
	interrupting chan struct{}
	// remote is set when grandma is elsewhere (RunRemote).
	remote *remote
}

// remote is what a call to a grandma elsewhere adds to each request: the
// protocol version and the call's id, and on the question the script; and
// what it takes from her last answer: her record of the call.
type remote struct {
	callID string
	script url.Values

	mu  sync.Mutex
	log []byte
}

// call plays the grandchild's part: the question at once, the interruption
// and the goodbye when the script says she wants to say them, but not
// before the story has begun, or ended, on her side of the link.
func (c *grandchild) call(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return c.say(ctx, story.LabelQuestion, c.script.Question) })
	g.Go(func() error {
		if err := story.Await(ctx, c.rec, c.script.InterruptAt, c.progress.Begun()); err != nil {
			return err
		}
		return c.say(ctx, story.LabelInterruption, c.script.Interruption)
	})
	g.Go(func() error {
		if err := story.Await(ctx, c.rec, c.script.GoodbyeAt, c.progress.Ended()); err != nil {
			return err
		}
		// Never before the interruption has gone: on a loaded machine its
		// goroutine may run late, and the goodbye must not overtake it.
		select {
		case <-c.interrupting:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := c.say(ctx, story.LabelGoodbye, c.script.Goodbye); err != nil {
			return err
		}
		// Having heard the farewell, hang up: the connection is idle now.
		c.client.CloseIdleConnections()
		return nil
	})
	return g.Wait()
}

// say sends one line as a request and hears every line of the answer. The
// line counts as sent when the transport hands the request a connection
// (httptrace's GotConn): until then, it is waiting for the channel.
func (c *grandchild) say(ctx context.Context, label, text string) error {
	reason := ReasonChannelBusy
	if label == story.LabelQuestion {
		reason = ReasonConnecting
	}
	id := c.rec.Want(timeline.Client, label, text, reason)
	var onAir sync.Once
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) {
		c.hearing.Lock() // hooks run before the request is written
		c.rec.Sent(id)
		c.hearing.Unlock()
		if label == story.LabelInterruption {
			onAir.Do(func() { close(c.interrupting) }) // the goodbye may go now
		}
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
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return fmt.Errorf("grandma answered the %s with %s: %s", label, resp.Status, strings.TrimSpace(string(msg)))
	}
	if c.remote != nil {
		if err := wire.CheckVersion(resp.Header.Get(wire.HeaderVersion), "server"); err != nil {
			return err
		}
	}
	return c.hear(resp.Body)
}

// hear reads grandma's answer line by line, recording each line when all of
// it has arrived.
func (c *grandchild) hear(body io.Reader) error {
	c.hearing.Lock()
	defer c.hearing.Unlock()
	limit := int64(MaxAnswer)
	if c.remote != nil {
		limit += wire.MaxLog
	}
	br := bufio.NewReaderSize(io.LimitReader(body, limit), MaxMessage)
	for {
		line, err := br.ReadString('\n')
		if c.remote != nil && strings.HasPrefix(line, wire.LogPrefix) && strings.HasSuffix(line, "\n") {
			c.remote.mu.Lock()
			c.remote.log = []byte(strings.TrimSuffix(line, "\n"))
			c.remote.mu.Unlock()
		} else if strings.HasSuffix(line, "\n") {
			m, herr := c.rec.Heard(timeline.Server, strings.TrimSuffix(line, "\n"))
			if herr != nil {
				return herr
			}
			c.progress.Heard(m.Label)
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
