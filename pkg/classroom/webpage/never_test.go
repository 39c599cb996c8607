package webpage_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/duplexdemo/duplexdemo/internal/browsertest"
	"github.com/duplexdemo/duplexdemo/pkg/classroom/webpage"
	"github.com/duplexdemo/duplexdemo/pkg/fullduplex"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

// forgetfulAt is when the forgetful grandma of TestPageSaysWhyALineNeverCame
// remembers the county fair: long after any goodbye.
const forgetfulAt = time.Minute

// TestPageSaysWhyALineNeverCame plays a phone call against a grandma who
// remembers her afterthought only a minute into the call, long after the
// goodbye, and checks that the page says why it never came, in its table,
// its note and the figure's name, rather than a bare "–".
func TestPageSaysWhyALineNeverCame(t *testing.T) {
	page := webpage.Handler()
	mux := http.NewServeMux()
	mux.Handle("/", page)
	// The script the page plays says when she remembers, as she does.
	mux.HandleFunc(webpage.ScriptPath, func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		page.ServeHTTP(rec, r)
		var script map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &script); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		script["afterthought_at_ms"] = float64(forgetfulAt.Milliseconds())
		delete(script, "report") // this grandma keeps no class: the page reports nothing
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(script)
	})
	mux.HandleFunc(fullduplex.Path, func(w http.ResponseWriter, r *http.Request) {
		s, err := wire.ParseScript(r.URL.Query())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.AfterthoughtAt = forgetfulAt
		rec := timeline.NewSideRecorder(timeline.Server, s.LineLabel, nil)
		fullduplex.NewGrandma(s, rec, fullduplex.Served{}).ServeHTTP(w, r)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	b := browsertest.New(t)
	if err := chromedp.Do(b.Ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitEnabled(chromedp.CSS("#play-phone"))); err != nil {
		t.Fatal(err)
	}
	mustPlay(t, b.Ctx, "phone")
	cells, err := chromedp.Run(b.Ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#run-phone table[data-mode] tbody tr')].map((r) => r.lastElementChild.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cells {
		if c == "" || c == "–" || c == "-" {
			t.Errorf("the afterthought's column says %q: want why it never came", cells)
			break
		}
	}
	if len(cells) == 0 || !strings.HasPrefix(cells[0], "never: ") {
		t.Errorf("the afterthought was wanted at %q; want never, and why", cells)
	}
	note, err := chromedp.Run(b.Ctx, chromedp.Text(chromedp.CSS("#run-phone .note")))
	if err != nil {
		t.Fatal(err)
	}
	if want := "she remembers the county fair only at 60000 ms"; !strings.Contains(note, "afterthought never reached you") || !strings.Contains(note, want) {
		t.Errorf("the note says %q; want why the afterthought never came (%q)", note, want)
	}
	label, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](`document.querySelector('#run-phone svg').getAttribute('aria-label')`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(label, "the afterthought never came: ") {
		t.Errorf("the figure is named %q; want it to say the afterthought never came, and why", label)
	}
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("the browser reported: %q", p)
	}
}
