// Package webpage is the classroom page that duplexdemo serve shows at /:
// a student with only a browser plays the call against grandma, as a
// walkie-talkie (fetch, HTTP/1.1) and as a phone call (the browser's
// WebSocket), and sees both sides drawn as they are measured.
//
// The page is plain HTML, CSS, JavaScript and SVG, embedded in the binary;
// it loads nothing from anywhere else, and its Content-Security-Policy says
// so to the browser.
package webpage

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strings"

	"github.com/duplexdemo/duplexdemo/pkg/class"
	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/story"
	"github.com/duplexdemo/duplexdemo/pkg/timeline"
	"github.com/duplexdemo/duplexdemo/pkg/wire"
)

//go:embed static
var static embed.FS

// ScriptPath is where the page fetches the script it plays.
const ScriptPath = "/script.json"

// ClassPath is the teacher's view of the class experiment: every student's
// call, live (package class). Its data comes from the server, under
// ClassPath + "/".
const ClassPath = "/class"

// Handler serves the page, its script and style, and the script of the call
// (ScriptPath). Static files are sent with Connection: close, so that the
// browser keeps no connection from loading the page: the walkie's first
// line opens its own, as on a fresh visit.
func Handler() http.Handler {
	files, err := fs.Sub(static, "static")
	if err != nil {
		panic("webpage: the embedded page is missing: " + err.Error()) // a build error, not input
	}
	fileServer := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the page is only for reading", http.StatusMethodNotAllowed)
			return
		}
		secure(w, r)
		w.Header().Set("Connection", "close")
		if r.URL.Path == ScriptPath {
			serveScript(w)
			return
		}
		switch r.URL.Path {
		case "/", "/app.js", "/style.css", "/class.js", "/class.css":
			w.Header().Set("Cache-Control", "no-cache")
			fileServer.ServeHTTP(w, r)
		case ClassPath:
			w.Header().Set("Cache-Control", "no-cache")
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/class.html"
			http.ServeFileFS(w, r2, files, "class.html")
		default:
			http.NotFound(w, r)
		}
	})
}

// secure sets the headers that keep the page to its own origin: scripts,
// styles and connections only from it (and its WebSocket), no frames.
func secure(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	ws := ""
	if host := r.Host; validHost(host) {
		ws = " ws://" + host
		// WebTransport is on a UDP port of the same host (duplexdemo serve
		// prints it), over https.
		h := host
		if hh, _, err := net.SplitHostPort(host); err == nil {
			h = hh
		}
		if strings.Contains(h, ":") {
			h = "[" + h + "]" // IPv6
		}
		ws += " https://" + h + ":*"
	}
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'"+ws+"; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// validHost says whether a Host header is a plain host or host:port, safe
// to repeat in a header.
func validHost(host string) bool {
	if host == "" || len(host) > 255 || strings.ContainsAny(host, " ;,'\"\\\r\n") {
		return false
	}
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	return h != ""
}

// Script is the call the page plays: every line, the grandchild's schedule
// (Cues, in the order she says them), and the reasons her lines wait, with
// times in milliseconds. Query is what the page sends with its first line,
// so that grandma plays the same script.
//
// PaceMS and AfterthoughtMS say when grandma speaks on her own clock, which
// starts only when the call reaches her: she tells sentence i of her story
// no sooner than i paces in, and remembers the county fair no sooner than
// AfterthoughtMS. From the lines it hears the page bounds her clock with
// them, and holds each of its later lines until her clock too has reached
// the line's time, however long the call took to open.
type Script struct {
	Question       string   `json:"question"`
	Story          []string `json:"story"`
	Interruption   string   `json:"interruption"`
	Answer         string   `json:"answer"`
	Afterthought   string   `json:"afterthought"`
	Goodbye        string   `json:"goodbye"`
	Farewell       string   `json:"farewell"`
	PaceMS         float64  `json:"pace_ms"`
	AfterthoughtMS float64  `json:"afterthought_at_ms"`
	Cues           []Cue    `json:"cues"`
	Reasons        Reasons  `json:"reasons"`
	Query          string   `json:"query"`
	Protocol       int      `json:"protocol"`
	// Student is a fresh anonymous name (class.NewName), for a browser that
	// has none yet: the page keeps the first it is given, and shows it, so
	// that the student can find her calls on the teacher's view.
	Student string `json:"student"`
	// Report is where the page reports each call to the class once it is
	// over (wire.ReportPath), and CallParam the query parameter that names
	// a phone call (wire.QueryCall).
	Report    string `json:"report"`
	CallParam string `json:"call_param"`
}

// Cue is a story.Cue as the page plays it: the line goes out at AtMS, once
// the grandchild has heard the story reach After (a story.Milestone: "",
// "story_begun" or "story_ended"), and after the cue before it. Every cue
// but the first, which opens the call, also waits until grandma's clock has
// reached AtMS (see Script).
type Cue struct {
	Label string  `json:"label"`
	Text  string  `json:"text"`
	AtMS  float64 `json:"at_ms"`
	After string  `json:"after"`
}

// Reasons are the shared reasons for waiting the page gives its lines: the
// first line's (timeline.ReasonConnecting) and the later ones'
// (timeline.ReasonChannelBusy).
type Reasons struct {
	Connecting  string `json:"connecting"`
	ChannelBusy string `json:"channel_busy"`
}

func serveScript(w http.ResponseWriter) {
	s := story.Default()
	ms := result.MS
	var cues []Cue
	for _, c := range s.Cues() {
		cues = append(cues, Cue{Label: c.Label, Text: c.Text, AtMS: ms(c.At), After: string(c.After)})
	}
	body, err := json.Marshal(Script{
		Question: s.Question, Story: s.Story, Interruption: s.Interruption, Answer: s.Answer,
		Afterthought: s.Afterthought, Goodbye: s.Goodbye, Farewell: s.Farewell,
		PaceMS: ms(s.Pace), AfterthoughtMS: ms(s.AfterthoughtAt),
		Cues:    cues,
		Reasons: Reasons{Connecting: timeline.ReasonConnecting, ChannelBusy: timeline.ReasonChannelBusy},
		Query:   wire.ScriptQuery(s).Encode(), Protocol: wire.Version,
		Student: class.NewName(), Report: wire.ReportPath, CallParam: wire.QueryCall,
	})
	if err != nil {
		http.Error(w, fmt.Sprintf("the script: %v", err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}
