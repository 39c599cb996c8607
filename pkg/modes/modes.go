// Package modes is the registry: every way duplexdemo carries the call, in
// one list, from half duplex to full duplex. The command line (a command
// per mode), compare and the lesson's table of every mode read it; a new
// mode is its own package and one line here.
package modes

import (
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/h1full"
	"github.com/duplexdemo/duplexdemo/pkg/h2"
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
	"github.com/duplexdemo/duplexdemo/pkg/rawtcp"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/webtransport"
	"github.com/duplexdemo/duplexdemo/pkg/workarounds"
)

// All returns every mode, in the order they are shown: the web's story
// first (Web), then what lies beneath and beyond it (Beneath).
func All() []call.Mode { return append(Web(), Beneath()...) }

// Web returns the ways a web page has carried a conversation, in the order
// they came: the walkie-talkie (HTTP request and answer) first, the tricks
// before WebSocket, and the phone call (WebSocket) last.
func Web() []call.Mode {
	return []call.Mode{
		halfduplex.Mode(),
		workarounds.Poll(),
		workarounds.LongPoll(),
		workarounds.SSE(),
		fullduplex.Mode(),
	}
}

// Beneath returns the modes that ask whether HTTP itself is half duplex:
// HTTP/1.1 when both ends agree to be full duplex, HTTP/2's streams,
// WebTransport over QUIC, and raw TCP, the baseline of what the wire itself
// allows.
func Beneath() []call.Mode {
	return []call.Mode{
		h1full.Mode(),
		h2.Mode(),
		webtransport.Mode(),
		rawtcp.Mode(),
	}
}

// Ends returns the two modes the lesson is about: half duplex (the
// walkie-talkie) and full duplex (the phone call).
func Ends() []call.Mode {
	return []call.Mode{halfduplex.Mode(), fullduplex.Mode()}
}

// Lookup returns the mode with key, and whether there is one.
func Lookup(key string) (call.Mode, bool) {
	for _, m := range All() {
		if m.Key == key {
			return m, true
		}
	}
	return call.Mode{}, false
}

// Keys returns every mode's key, in order.
func Keys() []string {
	var keys []string
	for _, m := range All() {
		keys = append(keys, m.Key)
	}
	return keys
}

// RunAll plays the call in each mode at once, each on its own connection
// with a configuration of its own from config, asked for each mode (it must
// return a fresh listener each time), and returns the results in the order of ms. If one
// fails, the others are stopped.
func RunAll(ctx context.Context, config func(call.Mode) call.Config, ms []call.Mode) ([]*result.Result, error) {
	g, ctx := errgroup.WithContext(ctx)
	results := make([]*result.Result, len(ms))
	for i, m := range ms {
		cfg := config(m)
		g.Go(func() (err error) {
			results[i], err = call.Run(ctx, m, cfg)
			return err
		})
	}
	return results, g.Wait()
}
