// Command sidebyside uses duplexdemo's packages as a library: it plays the
// same call over HTTP/1.1 (halfduplex) and over a WebSocket (fullduplex),
// one after the other, and prints the two summaries side by side.
//
//	go run ./examples/sidebyside
//	go run ./examples/sidebyside -speed 4 -latency 100ms
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"text/tabwriter"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/call"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/halfduplex"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/view/report"
)

func main() {
	speed := flag.Float64("speed", 1, "play the script this many times faster")
	latency := flag.Duration("latency", 40*time.Millisecond, "one-way latency of the emulated link")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, *speed, *latency); err != nil {
		fmt.Fprintln(os.Stderr, "sidebyside:", err)
		os.Exit(1)
	}
}

// run plays both calls and prints their summaries as two columns.
func run(ctx context.Context, w io.Writer, speed float64, latency time.Duration) error {
	script, err := story.New(story.Options{Speed: speed})
	if err != nil {
		return err
	}
	cfg := call.Config{Script: script, Latency: latency}
	walkie, err := call.Run(ctx, halfduplex.Mode(), cfg)
	if err != nil {
		return fmt.Errorf("walkie: %w", err)
	}
	phone, err := call.Run(ctx, fullduplex.Mode(), cfg)
	if err != nil {
		return fmt.Errorf("phone: %w", err)
	}
	h, f := report.Build(walkie).Summary, report.Build(phone).Summary
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\twalkie (HTTP/1.1)\tphone (WebSocket)\t\n")
	row := func(name string, a, b any) { fmt.Fprintf(tw, "%s\t%v\t%v\t\n", name, a, b) }
	ms := func(v *float64) string {
		if v == nil {
			return "never"
		}
		return result.MSText(*v)
	}
	row("interruption waited", ms(h.Interruption.WaitedMS), ms(f.Interruption.WaitedMS))
	row("interruption heard after", ms(h.Interruption.HeardAfterMS), ms(f.Interruption.HeardAfterMS))
	row("afterthought waited", ms(h.Afterthought.WaitedMS), ms(f.Afterthought.WaitedMS))
	row("afterthought heard after", ms(h.Afterthought.HeardAfterMS), ms(f.Afterthought.HeardAfterMS))
	row("overlap", result.MSText(h.OverlapMS), result.MSText(f.OverlapMS))
	row("bytes client to server", h.Bytes.ClientToServer, f.Bytes.ClientToServer)
	row("bytes server to client", h.Bytes.ServerToClient, f.Bytes.ServerToClient)
	row("connections", h.Connections, f.Connections)
	return tw.Flush()
}
