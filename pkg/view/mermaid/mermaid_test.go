package mermaid_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/result"

	"go.uber.org/goleak"

	"github.com/chromedp/chromedp"

	"github.com/duplexdemo/duplexdemo/internal/browsertest"
	"github.com/duplexdemo/duplexdemo/internal/calltest"
	"github.com/duplexdemo/duplexdemo/internal/exporttest"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/view/mermaid"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestGolden(t *testing.T) {
	exporttest.Golden(t, *update, ".md", mermaid.Write, nil)
}

// nasty is a call whose lines hold everything that could break a diagram:
// Mermaid's keywords, its statement and comment characters, arrows, HTML.
func nasty(t *testing.T) *result.Result {
	t.Helper()
	var res *result.Result
	synctest.Test(t, func(t *testing.T) {
		r := timeline.NewRecorder(nil)
		say := func(from timeline.Side, label, text string) {
			id := r.Want(from, label, text, "because; #reasons <b>end</b>")
			time.Sleep(2 * time.Millisecond)
			r.Sent(id)
			time.Sleep(10 * time.Millisecond)
			if _, err := r.Heard(from, text); err != nil {
				t.Fatal(err)
			}
		}
		r.Record(timeline.Client, timeline.KindConnect, "end")
		say(timeline.Client, "end", "end")
		say(timeline.Server, "par", "loop alt else opt par and rect end; critical break")
		say(timeline.Client, "note", "%% not a comment ; #35; # <script>alert(1)</script>")
		say(timeline.Server, "participant", "A->>B: x\nNote over A: y")
		say(timeline.Client, "title", "autonumber activate deactivate box destroy create")
		r.Record(timeline.Server, timeline.KindClose, "end")
		res = &result.Result{Mode: result.Mode{Key: "end", Transport: "par; #1 <i>", ServerMayStart: true}, Timeline: r.Finish()}
	})
	return res
}

// TestRenders renders every diagram with Mermaid itself, in headless
// Chromium: each must parse, and the picture must hold every arrow and
// every note the text has.
func TestRenders(t *testing.T) {
	js := mermaidJS(t)
	walkie, phone := exporttest.FakeCalls(t)
	var long *result.Result
	synctest.Test(t, func(t *testing.T) {
		long = calltest.InMemory(t, fullduplex.Mode(), calltest.Script(t, story.Options{Sentences: story.MaxSentences}), 0)
	})
	diagrams := map[string]string{
		"walkie": mermaid.Diagram(walkie),
		"phone":  mermaid.Diagram(phone),
		"long":   mermaid.Diagram(long),
		"nasty":  mermaid.Diagram(nasty(t)),
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/mermaid.min.js", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, js) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><meta charset="utf-8"><body><script src="/mermaid.min.js"></script>
<script>mermaid.initialize({startOnLoad: false, securityLevel: "strict"});</script>`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	b := browsertest.New(t)
	if err := chromedp.Do(b.Ctx, chromedp.Navigate(srv.URL), chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
		t.Fatal(err)
	}
	for name, d := range diagrams {
		t.Run(name, func(t *testing.T) {
			src, _ := json.Marshal(d)
			type rendered struct {
				SVG   string `json:"svg"`
				Error string `json:"error"`
			}
			script := fmt.Sprintf(`mermaid.render("d-%s", %s).then(r => ({svg: r.svg}), e => ({error: String(e && e.message || e)}))`, name, src)
			out, err := chromedp.Run(b.Ctx, chromedp.Evaluate[rendered](script, chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatal(err)
			}
			if out.Error != "" {
				t.Fatalf("Mermaid cannot render it: %s\n%s", out.Error, d)
			}
			arrows, notes, pars := 0, 0, 0
			for _, line := range strings.Split(d, "\n") {
				line = strings.TrimSpace(line)
				switch {
				case arrowLine.MatchString(line):
					arrows++
				case strings.HasPrefix(line, "Note over "):
					notes++
				case strings.HasPrefix(line, "par "):
					pars++
				}
			}
			if got := strings.Count(out.SVG, `class="messageLine`); got != arrows {
				t.Errorf("the picture has %d arrows, the text %d", got, arrows)
			}
			if got := strings.Count(out.SVG, `class="note"`); got != notes {
				t.Errorf("the picture has %d notes, the text %d", got, notes)
			}
			if got := strings.Count(out.SVG, ">par<"); got != pars {
				t.Errorf("the picture has %d par blocks, the text %d", got, pars)
			}
			if name == "long" && !strings.Contains(out.SVG, "grandpa; he stepped") {
				t.Error("the picture does not show the semicolon in the last sentence as a semicolon")
			}
			if strings.Contains(out.SVG, "<script") {
				t.Error("the picture holds a script element")
			}
		})
	}
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("the browser reported: %q", p)
	}
}

// arrowLine matches a message line of a diagram.
var arrowLine = regexp.MustCompile(`^(Grandchild|Grandma)(->>|-->>|-\))(Grandchild|Grandma): `)

// mermaidJS returns the path of mermaid.min.js: $DUPLEXDEMO_MERMAID_JS, or
// where .ci/run installs it.
func mermaidJS(t *testing.T) string {
	t.Helper()
	p := os.Getenv("DUPLEXDEMO_MERMAID_JS")
	if p == "" {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, ".cache", "duplexdemo-ci", "node_modules", "mermaid", "dist", "mermaid.min.js")
		}
	}
	if _, err := os.Stat(p); err != nil {
		browsertest.Missing(t, "no mermaid.min.js: npm install mermaid@12.3.0 and set DUPLEXDEMO_MERMAID_JS to its dist/mermaid.min.js (.ci/run does)")
	}
	return p
}
