package webpage_test

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/duplexdemo/duplexdemo/pkg/classroom/webpage"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
)

// TestScriptServesTheSchedule checks that the page is served the
// grandchild's schedule as story.Script.Cues defines it, and the shared
// reasons for waiting as the timeline names them. It reads the JSON by the
// names app.js uses, not through webpage.Script.
func TestScriptServesTheSchedule(t *testing.T) {
	w := httptest.NewRecorder()
	webpage.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, webpage.ScriptPath, nil))
	if w.Code != http.StatusOK {
		t.Fatalf("%s: %d %s", webpage.ScriptPath, w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var got struct {
		Cues []struct {
			Label string  `json:"label"`
			Text  string  `json:"text"`
			AtMS  float64 `json:"at_ms"`
			After string  `json:"after"`
		} `json:"cues"`
		Reasons map[string]string `json:"reasons"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("%s: %v", webpage.ScriptPath, err)
	}

	want := story.Default().Cues()
	if len(got.Cues) != len(want) {
		t.Fatalf("%d cues %+v, want %d: %+v", len(got.Cues), got.Cues, len(want), want)
	}
	for i, c := range got.Cues {
		at := time.Duration(math.Round(c.AtMS * float64(time.Millisecond)))
		gotCue := story.Cue{Label: c.Label, Text: c.Text, At: at, After: story.Milestone(c.After)}
		if gotCue != want[i] {
			t.Errorf("cue %d is %+v (at_ms %v), want %+v", i, gotCue, c.AtMS, want[i])
		}
	}

	wantReasons := map[string]string{"connecting": timeline.ReasonConnecting, "channel_busy": timeline.ReasonChannelBusy}
	if len(got.Reasons) != len(wantReasons) {
		t.Errorf("reasons %v, want %v", got.Reasons, wantReasons)
	}
	for k, v := range wantReasons {
		if got.Reasons[k] != v {
			t.Errorf("reasons[%q] = %q, want %q", k, got.Reasons[k], v)
		}
	}
}

// TestScriptSaysWhenGrandmaSpeaks checks that the page is told the pace of
// grandma's story and when she remembers the county fair, as the script
// has them: from her lines the page bounds her clock, which starts only
// when the call reaches her, so that its later lines keep to the script on
// her clock too, however long the call took to open.
func TestScriptSaysWhenGrandmaSpeaks(t *testing.T) {
	w := httptest.NewRecorder()
	webpage.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, webpage.ScriptPath, nil))
	var got struct {
		PaceMS         *float64 `json:"pace_ms"`
		AfterthoughtMS *float64 `json:"afterthought_at_ms"`
		Story          []string `json:"story"`
		Afterthought   string   `json:"afterthought"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("%s: %v", webpage.ScriptPath, err)
	}
	s := story.Default()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	if got.PaceMS == nil || *got.PaceMS != ms(s.Pace) {
		t.Errorf("pace_ms %v, want %v", got.PaceMS, ms(s.Pace))
	}
	if got.AfterthoughtMS == nil || *got.AfterthoughtMS != ms(s.AfterthoughtAt) {
		t.Errorf("afterthought_at_ms %v, want %v", got.AfterthoughtMS, ms(s.AfterthoughtAt))
	}
	if !slices.Equal(got.Story, s.Story) || got.Afterthought != s.Afterthought {
		t.Errorf("story %q and afterthought %q, want %q and %q", got.Story, got.Afterthought, s.Story, s.Afterthought)
	}
}

// TestPageKeepsToItsPolicy checks that the page is served with a policy
// that allows no inline script or style, and that the page itself needs
// none: no inline script, no style attribute, and a script that writes no
// style and no HTML.
func TestPageKeepsToItsPolicy(t *testing.T) {
	h := webpage.Handler()
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d", path, w.Code)
		}
		return w
	}
	page := get("/")
	csp := page.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("Content-Security-Policy %q allows something unsafe", csp)
	}
	html := page.Body.String()
	if strings.Contains(html, "style=") || strings.Contains(html, "<style") {
		t.Error("index.html has inline style, which its policy forbids")
	}
	for _, s := range strings.Split(html, "<script")[1:] {
		if !strings.Contains(s[:strings.IndexByte(s, '>')], "src=") {
			t.Error("index.html has an inline script, which its policy forbids")
		}
	}
	js := get("/app.js").Body.String()
	for _, bad := range []string{".style.", "'style'", "innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "new Function"} {
		if strings.Contains(js, bad) {
			t.Errorf("app.js uses %s: the page's policy forbids inline style and script, and it writes no HTML", bad)
		}
	}
}
