package webpage_test

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
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
