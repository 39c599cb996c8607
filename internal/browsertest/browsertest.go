// Package browsertest starts headless Chromium for tests that need a real
// browser to render a page, and collects what the page reported on its
// console.
//
// Tests using it skip when no Chromium is installed, with a line saying
// how to install one, unless DUPLEXDEMO_REQUIRE_BROWSER=1 is set (as .ci/run
// does), in which case they fail instead.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// RequireEnv, set to 1, turns a missing browser or asset from a skip into a
// failure.
const RequireEnv = "DUPLEXDEMO_REQUIRE_BROWSER"

// ChromiumEnv names a Chromium executable to use instead of the first of
// chromium, chromium-browser, google-chrome found on the PATH.
const ChromiumEnv = "DUPLEXDEMO_CHROMIUM"

// Missing skips the test, or fails it when RequireEnv is set, for want of
// what says.
func Missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s (%s=1, so this test may not skip)", what, RequireEnv)
	}
	t.Skip(what)
}

// Chromium returns the path of a Chromium executable, or skips the test.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(ChromiumEnv); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	Missing(t, "no Chromium found: install Debian's chromium package (apt-get install chromium) or set "+ChromiumEnv)
	return ""
}

// Browser is one headless Chromium tab and what its pages reported.
type Browser struct {
	// Ctx runs chromedp actions in the tab.
	Ctx context.Context

	mu       sync.Mutex
	problems []string
	requests []string
}

// New starts headless Chromium with a fresh profile and no network of its
// own beyond what the page asks for, and stops it when the test ends.
func New(t testing.TB) *Browser {
	t.Helper()
	exe := Chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.WindowSize(1280, 800),
	}
	b := &Browser{}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(b.observe))
	// Long enough for twenty calls on a page slowed eight times on a busy
	// machine; short enough that a test stuck waiting for the page fails.
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc()
	})
	b.Ctx = ctx
	if _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	return b
}

// observe notes the events that tell of a problem, and every request. It
// runs on chromedp's reading goroutine, so it only appends.
func (b *Browser) observe(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == "error" || ev.Type == "assert" {
			b.problems = append(b.problems, "console."+string(ev.Type)+": "+args(ev.Args))
		}
	case *runtime.EventExceptionThrown:
		msg := ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			msg += " " + ev.ExceptionDetails.Exception.Description
		}
		b.problems = append(b.problems, "exception: "+msg)
	case *log.EventEntryAdded:
		if ev.Entry.Level == "error" {
			b.problems = append(b.problems, fmt.Sprintf("%s error: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, ev.Request.URL)
	case *network.EventLoadingFailed:
		if !ev.Canceled {
			b.problems = append(b.problems, fmt.Sprintf("request failed: %s %s", ev.ErrorText, ev.BlockedReason))
		}
	}
}

func args(as []*runtime.RemoteObject) string {
	var parts []string
	for _, a := range as {
		switch {
		case a.Description != "":
			parts = append(parts, a.Description)
		case len(a.Value) > 0:
			parts = append(parts, string(a.Value))
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}

// Problems returns the console errors, uncaught exceptions and failed
// requests the tab has seen so far.
func (b *Browser) Problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

// Requests returns the URL of every request the tab has made so far.
func (b *Browser) Requests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.requests...)
}
