// Package compare plays the same call both ways at once, over HTTP/1.1 and
// over a WebSocket, with the same script on the same emulated link, each on
// its own connection.
package compare

import (
	"context"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
	"github.com/duplexdemo/duplexdemo/pkg/workarounds"
)

// Run plays both calls side by side and returns what each measured.
// config is called once per call and must return a fresh configuration
// (its own listener) each time. Run returns when both calls are over; if
// one fails, the other is stopped.
func Run(ctx context.Context, config func() call.Config) (walkie, phone *call.Result, err error) {
	g, ctx := errgroup.WithContext(ctx)
	walkieCfg, phoneCfg := config(), config()
	g.Go(func() (err error) {
		walkie, err = halfduplex.Run(ctx, walkieCfg)
		return err
	})
	g.Go(func() (err error) {
		phone, err = fullduplex.Run(ctx, phoneCfg)
		return err
	})
	return walkie, phone, g.Wait()
}

// Mode is one way of carrying the call, for RunAll.
type Mode struct {
	Name string
	Run  func(context.Context, call.Config) (*call.Result, error)
}

// All is every way duplexdemo carries the call, from the walkie-talkie to
// the phone, with the tricks before WebSocket between them, polling every
// pollEvery.
func All(pollEvery time.Duration) []Mode {
	return []Mode{
		{"walkie", halfduplex.Run},
		{"poll", func(ctx context.Context, cfg call.Config) (*call.Result, error) {
			return workarounds.Run(ctx, cfg, pollEvery)
		}},
		{"longpoll", workarounds.RunLong},
		{"sse", workarounds.RunSSE},
		{"phone", fullduplex.Run},
	}
}

// RunAll plays the call in each mode at once, each on its own connection,
// and returns the results in the order of modes. If one fails, the others
// are stopped.
func RunAll(ctx context.Context, config func() call.Config, modes []Mode) ([]*call.Result, error) {
	g, ctx := errgroup.WithContext(ctx)
	results := make([]*call.Result, len(modes))
	for i, m := range modes {
		cfg := config()
		g.Go(func() (err error) {
			results[i], err = m.Run(ctx, cfg)
			return err
		})
	}
	return results, g.Wait()
}
