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
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/workarounds"
)

// All returns every mode, in the order they are shown: the walkie-talkie
// first, the phone call last, the tricks before WebSocket between them.
func All() []call.Mode {
	return []call.Mode{
		halfduplex.Mode(),
		workarounds.Poll(),
		workarounds.LongPoll(),
		workarounds.SSE(),
		fullduplex.Mode(),
	}
}

// Ends returns the two modes the lesson is about, the first and the last:
// half duplex and full duplex.
func Ends() []call.Mode {
	all := All()
	return []call.Mode{all[0], all[len(all)-1]}
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
