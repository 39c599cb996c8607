package webpage

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/duplexdemo/duplexdemo/pkg/class"
)

// The tags of class.html that load its style and script from the server;
// a saved report has them inline instead.
const (
	classStyleTag  = `<link rel="stylesheet" href="/class.css">`
	classScriptTag = `<script src="/class.js" defer></script>`
	classCharset   = `<meta charset="utf-8">`
)

// ClassReport writes the teacher's view of v as one self-contained HTML
// file, for after class: the page at ClassPath with its style and script
// inline and v inside it, as JSON in <script type="application/json"
// id="class-data">, which the script draws instead of connecting to a
// server. v is marked static. The file loads nothing, and its
// Content-Security-Policy says so to the browser.
func ClassReport(w io.Writer, v class.View) error {
	page, err := fs.ReadFile(static, "static/class.html")
	if err != nil {
		return err
	}
	style, err := fs.ReadFile(static, "static/class.css")
	if err != nil {
		return err
	}
	script, err := fs.ReadFile(static, "static/class.js")
	if err != nil {
		return err
	}
	// The style and script go inside <style> and <script> as they are,
	// so neither may close its element early.
	for _, f := range []struct {
		name, end string
		body      []byte
	}{{"class.css", "</style", style}, {"class.js", "</script", script}} {
		if bytes.Contains(bytes.ToLower(f.body), []byte(f.end)) {
			return fmt.Errorf("webpage: %s holds %q, so it cannot be inlined", f.name, f.end)
		}
	}
	v.Static = true
	// json.Marshal writes <, > and & as \u003c, \u003e and \u0026, so no
	// text in the view (a student's name, a line) can close the element.
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	hash := func(b []byte) string {
		sum := sha256.Sum256(b)
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	csp := `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src ` + hash(script) +
		`; style-src ` + hash(style) + `; img-src data:; base-uri 'none'; form-action 'none'">`
	out := string(page)
	for _, r := range []struct{ old, new string }{
		{classCharset, classCharset + "\n" + csp},
		{classStyleTag, "<style>" + string(style) + "</style>"},
		{classScriptTag, `<script type="application/json" id="class-data">` + string(data) + "</script>\n<script>" + string(script) + "</script>"},
	} {
		if strings.Count(out, r.old) != 1 {
			return fmt.Errorf("webpage: class.html should hold %s once", r.old)
		}
		out = strings.Replace(out, r.old, r.new, 1)
	}
	_, err = io.WriteString(w, out)
	return err
}
