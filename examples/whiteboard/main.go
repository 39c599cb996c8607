// Command whiteboard has two people draw on one whiteboard at once, each
// stroke a small message, while one of them pastes a big image on a link of
// limited bandwidth: by polling, by long polling and by WebSocket push
// (package relay). It measures when each sees the other's strokes, and how
// the image holds up what comes after it: the strokes its sender draws next
// queue behind it on her link going up, then on the other's coming down;
// and, over HTTP, the requests that carry everything else wait for it too.
//
//	go run ./examples/whiteboard
//	go run ./examples/whiteboard -image 500KB -bandwidth 2Mbit -latency 80ms
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/duplexdemo/duplexdemo/examples/internal/relay"
	"github.com/duplexdemo/duplexdemo/pkg/link"
	"github.com/duplexdemo/duplexdemo/pkg/story"
)

// The drawing, on the hub's clock.
const (
	// strokeEvery is how often each person adds a stroke: a short drag of
	// the pen, sent as it ends.
	strokeEvery = 200 * time.Millisecond
	// strokes is how many each draws: 5s of drawing, long enough for
	// the image to cross both links at the default size and rate.
	strokes = 25
	// pasteAt is when ann pastes the image, between two of her strokes.
	pasteAt = 700 * time.Millisecond
	// arriveWithin bounds how long after the last stroke and the image's
	// time on both links everything may take to arrive.
	arriveWithin = 5 * time.Second
	// maxImage bounds -image: 5MB take 40s at 1Mbit each way.
	maxImage = 5 * link.MB
)

// transports are the table's columns.
var transports = []relay.Transport{relay.Poll, relay.LongPoll, relay.Push}

// options are the command's flags, and the drawing's timing.
type options struct {
	latency, every, jitter time.Duration
	bandwidth              link.Rate
	seed                   uint64
	image                  link.Size
	strokes                int
	pasteAt                time.Duration
}

func main() {
	o := options{bandwidth: link.Mbit, image: 200 * link.KB, strokes: strokes, pasteAt: pasteAt}
	flag.DurationVar(&o.latency, "latency", 40*time.Millisecond, "one-way latency of each person's emulated link")
	flag.DurationVar(&o.every, "every", 300*time.Millisecond, "how often polling people ask for new strokes")
	flag.DurationVar(&o.jitter, "jitter", 0, "the most extra delay of each write on the link")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the jitter's draws, so that a run can be replayed")
	flag.Func("bandwidth", "each person's link's rate each way, such as 1Mbit or 256kbit (default 1Mbit)", func(s string) error {
		r, err := link.ParseRate(s)
		if err == nil && r == 0 {
			err = errors.New("the image needs a limited bandwidth to hold anything up: give a rate such as 1Mbit")
		}
		o.bandwidth = r
		return err
	})
	flag.Func("image", "the size of the pasted image as it crosses, base64 in a data URL, such as 200KB (default 200KB)", func(s string) error {
		v, err := link.ParseSize(s)
		var oe *story.OptionError
		if errors.As(err, &oe) {
			oe.Option = "image"
		}
		if err == nil && (v < link.KB || v > maxImage) {
			err = fmt.Errorf("an image of %v: want 1KB to %v", v, maxImage)
		}
		o.image = v
		return err
	})
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	results, err := runAll(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "whiteboard:", err)
		os.Exit(1)
	}
	print(os.Stdout, o, results)
}

// runAll draws on every transport at once, each on a hub and links of its
// own, and returns the results in the order of transports.
func runAll(ctx context.Context, o options) ([]result, error) {
	results := make([]result, len(transports))
	errs := make([]error, len(transports))
	var wg sync.WaitGroup
	for i, tr := range transports {
		cfg := relay.Config{Transport: tr, Every: o.every, Latency: o.latency, Bandwidth: o.bandwidth,
			Jitter: o.jitter, Seed: o.seed, MaxMessage: max(int(o.image), relay.MaxMessage)}
		wg.Go(func() { results[i], errs[i] = run(ctx, cfg, o) })
	}
	wg.Wait()
	return results, errors.Join(errs...)
}

// item is a stroke or the image, as its drawer made it: "stroke N AT
// points" or "image 0 AT data:...", AT in nanoseconds on the hub's clock.
type item struct {
	image bool
	n     int
	at    time.Duration
}

func (it item) encode(size link.Size, rng *rand.Rand) string {
	if !it.image {
		x, y := 20*it.n, 10*it.n
		return fmt.Sprintf("stroke %d %d %d,%d %d,%d %d,%d", it.n, int64(it.at), x, y, x+7, y+3, x+12, y+9)
	}
	// A pasted image crosses as a data URL: base64 of its bytes, here
	// random, as compressed pixels are.
	head := fmt.Sprintf("image 0 %d data:image/png;base64,", int64(it.at))
	raw := make([]byte, int(size)*3/4+3)
	for i := range raw {
		raw[i] = byte(rng.Uint32())
	}
	return head + base64.StdEncoding.EncodeToString(raw)[:max(0, int(size)-len(head))]
}

func parseItem(s string) (item, error) {
	var kind string
	var it item
	var at int64
	if _, err := fmt.Sscanf(s, "%s %d %d", &kind, &it.n, &at); err != nil || kind != "stroke" && kind != "image" {
		return it, fmt.Errorf("not a stroke nor an image: %.40q", s)
	}
	it.image, it.at = kind == "image", time.Duration(at)
	return it, nil
}

// seen is an item as one person received the other's.
type seen struct {
	item
	size              int
	posted, delivered time.Duration // when the server had it; when she had read it
}

// result is what one drawing session measured, all from the moment each
// stroke was drawn or the image pasted.
type result struct {
	transport relay.Transport
	// before is, for every stroke drawn before the paste, either way, how
	// long it took to reach the other.
	before []time.Duration
	// paste is when ann pasted; imageSize how many bytes of it bob got;
	// imageUp when the server had it; imageDown when bob had.
	paste, imageUp, imageDown time.Duration
	imageSize                 int
	// behindUp and behindDown are, for ann's strokes drawn while her image
	// was going up, how long each took to reach the server, and bob.
	behindUp, behindDown []time.Duration
	// bobToAnn is, for bob's strokes drawn meanwhile, how long each took
	// to reach ann.
	bobToAnn []time.Duration
	// bobUp is, for bob's strokes drawn while the image came down to him,
	// how long each took to reach the server.
	bobUp []time.Duration
	// received counts the items each received of the other's.
	received map[string]int
}

// run has ann and bob draw their strokes, ann paste the image, and
// measures what each saw of the other's.
func run(ctx context.Context, cfg relay.Config, o options) (result, error) {
	h, err := relay.Start(cfg)
	if err != nil {
		return result{}, err
	}
	defer h.Close()
	names := []string{"ann", "bob"}
	clients := map[string]*relay.Client{}
	for _, n := range names {
		c, err := h.Join(ctx, n)
		if err != nil {
			return result{}, err
		}
		clients[n] = c
	}
	rng := rand.New(rand.NewPCG(o.seed, 0))
	start := h.Now()
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		// outbox holds what the person drew and has not gone yet: every
		// stroke goes, in order, one at a time.
		outbox := make(chan string, o.strokes+1)
		wg.Go(func() { // the person draws
			defer close(outbox)
			pasted := n != "ann"
			for s := 1; s <= o.strokes; s++ {
				at := start + time.Duration(s)*strokeEvery
				if !pasted && at > start+o.pasteAt {
					if h.SleepUntil(ctx, start+o.pasteAt) != nil {
						return
					}
					outbox <- item{image: true, at: h.Now()}.encode(o.image, rng)
					pasted = true
				}
				if h.SleepUntil(ctx, at) != nil {
					return
				}
				outbox <- item{n: s, at: h.Now()}.encode(o.image, nil)
			}
		})
		wg.Go(func() { // what was drawn goes out
			for data := range outbox {
				if errs[i] == nil {
					_, errs[i] = clients[n].Send(ctx, data)
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(append(errs, ctx.Err())...); err != nil {
		return result{}, err
	}
	// Wait until each has all of the other's, or gives up.
	want := map[string]int{"ann": o.strokes, "bob": o.strokes + 1}
	deadline := h.Now() + 2*o.bandwidth.TimeFor(int64(o.image)) + arriveWithin
	for h.Now() < deadline && (len(clients["ann"].Received()) < want["ann"] || len(clients["bob"].Received()) < want["bob"]) {
		if err := h.SleepUntil(ctx, h.Now()+10*time.Millisecond); err != nil {
			return result{}, err
		}
	}
	views := map[string][]seen{}
	for _, n := range names {
		for _, m := range clients[n].Received() {
			it, err := parseItem(m.Data)
			if err != nil {
				return result{}, err
			}
			views[n] = append(views[n], seen{item: it, size: len(m.Data), posted: m.PostedAt, delivered: m.ReceivedAt})
		}
	}
	return measure(cfg.Transport, views), nil
}

// measure reads the two views: views["bob"] is what bob received of ann's,
// views["ann"] what ann received of bob's.
func measure(tr relay.Transport, views map[string][]seen) result {
	r := result{transport: tr, received: map[string]int{}}
	for n, v := range views {
		r.received[n] = len(v)
	}
	for _, s := range views["bob"] {
		if s.image {
			r.paste, r.imageUp, r.imageDown, r.imageSize = s.at, s.posted, s.delivered, s.size
		}
	}
	for _, s := range views["bob"] { // ann's strokes
		switch {
		case s.image:
		case s.at < r.paste:
			r.before = append(r.before, s.delivered-s.at)
		case s.at < r.imageUp:
			r.behindUp = append(r.behindUp, s.posted-s.at)
			r.behindDown = append(r.behindDown, s.delivered-s.at)
		}
	}
	for _, s := range views["ann"] { // bob's strokes
		switch {
		case s.at < r.paste:
			r.before = append(r.before, s.delivered-s.at)
		case s.at < r.imageUp:
			r.bobToAnn = append(r.bobToAnn, s.delivered-s.at)
		case s.at < r.imageDown:
			r.bobUp = append(r.bobUp, s.posted-s.at)
		}
	}
	return r
}

// percentile returns the pth of d (0 to 1), 0 if there are none.
func percentile(d []time.Duration, p float64) time.Duration {
	d = slices.Clone(d)
	slices.Sort(d)
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(p*float64(len(d))))]
}

func print(w io.Writer, o options, results []result) {
	fmt.Fprintf(w, "Ann and Bob each draw a stroke every %v for %v; at %v Ann pastes a\n", strokeEvery, time.Duration(o.strokes)*strokeEvery, o.pasteAt)
	fmt.Fprintf(w, "%v image. Each has a link of %v and %v each way", o.image, o.bandwidth, o.latency)
	if o.jitter > 0 {
		fmt.Fprintf(w, ", jitter 0 to %v (seed %d)", o.jitter, o.seed)
	}
	fmt.Fprintf(w, ", on which the\nimage takes %v; polls every %v. Times are from when each was drawn.\n\n",
		o.bandwidth.TimeFor(int64(o.image)).Round(time.Millisecond), o.every)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t", r.transport)
	}
	fmt.Fprintln(tw)
	row := func(name string, get func(result) string) {
		fmt.Fprintf(tw, "%s\t", name)
		for _, r := range results {
			fmt.Fprintf(tw, "%s\t", get(r))
		}
		fmt.Fprintln(tw)
	}
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	worst := func(d []time.Duration) string {
		if len(d) == 0 {
			return "none"
		}
		return ms(percentile(d, 1))
	}
	row("strokes before the paste, seen after (median)", func(r result) string { return ms(percentile(r.before, 0.5)) })
	row("the image: on the server after", func(r result) string { return ms(r.imageUp - r.paste) })
	row("seen by Bob after", func(r result) string { return ms(r.imageDown - r.paste) })
	row("Ann's strokes behind it", func(r result) string { return fmt.Sprint(len(r.behindUp)) })
	row("on the server after, at worst", func(r result) string { return worst(r.behindUp) })
	row("seen by Bob after, at worst", func(r result) string { return worst(r.behindDown) })
	row("Bob's, while it went up: seen by Ann", func(r result) string { return worst(r.bobToAnn) })
	row("Bob's, while it came down: on the server", func(r result) string { return worst(r.bobUp) })
	tw.Flush()
}

// String is for the test's logs.
func (r result) String() string {
	return fmt.Sprintf("%s: image up %v, down %v; ann's strokes behind it up %v, to bob %v; bob's to ann meanwhile %v; bob's up while it came down %v",
		r.transport, r.imageUp-r.paste, r.imageDown-r.paste, r.behindUp, r.behindDown, r.bobToAnn, r.bobUp)
}
