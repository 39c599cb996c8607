// Package compare plays the same call both ways at once, over HTTP/1.1 and
// over a WebSocket, with the same script on the same emulated link, each on
// its own connection.
package compare

import (
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
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
