package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/duplexdemo/duplexdemo/pkg/result"
	"github.com/duplexdemo/duplexdemo/pkg/view/htmlreport"
	"github.com/duplexdemo/duplexdemo/pkg/view/mermaid"
	"github.com/duplexdemo/duplexdemo/pkg/view/traceevent"
)

// exportOptions name the files a call's measured timeline is written to,
// besides what is printed.
type exportOptions struct {
	// TraceOut is a Chrome Trace Event Format file for Perfetto (--trace-out).
	TraceOut string
	// Mermaid is a Markdown file with a Mermaid sequence diagram, or "-" for
	// standard output (--mermaid).
	Mermaid string
	// HTML is a self-contained HTML report (--html).
	HTML string
}

// addExportFlags registers the export flags on fs.
func addExportFlags(fs *pflag.FlagSet, o *exportOptions) {
	fs.Var(&pathValue{&o.TraceOut}, "trace-out", "also write the timeline as a trace to FILE (such as call.json), to open in ui.perfetto.dev")
	fs.Var(&pathValue{&o.Mermaid}, "mermaid", "also write a Mermaid sequence diagram, in Markdown, to FILE (such as call.md); - prints the Markdown instead of the picture")
	fs.Var(&pathValue{&o.HTML}, "html", "also write a self-contained report page to FILE (such as call.html), for a browser, a projector or paper")
}

// pathValue is a flag naming a file to write.
type pathValue struct{ p *string }

func (v *pathValue) String() string { return *v.p }
func (v *pathValue) Type() string   { return "FILE" }
func (v *pathValue) Set(s string) error {
	if s == "" {
		return errors.New("want a file name")
	}
	*v.p = s
	return nil
}

// export is one file to write: where, what, and what to tell the user.
type export struct {
	flag string
	// path is the file as the user named it; target is the file it names,
	// through any symbolic link.
	path   string
	target string
	write  func(io.Writer, ...*result.Result) error
	done   string
	// tmp is the file being written; it is renamed to path once complete,
	// so that an interrupted run leaves no half-written file.
	tmp *os.File
}

// exporter writes a call's exports once the call is over.
type exporter struct {
	files []*export
	// stdout, if set, writes the Mermaid diagram to standard output instead
	// of the usual picture.
	stdout bool
}

// prepare checks the export flags and opens a temporary file beside each
// target, so that a path that cannot be written is reported before the call
// is played. json says whether --json already has standard output.
func (o *exportOptions) prepare(json bool) (*exporter, error) {
	ex := &exporter{}
	seen := map[string]string{}
	for _, e := range []*export{
		{flag: "trace-out", path: o.TraceOut, write: traceevent.Write, done: "wrote the trace to %s: open it at https://ui.perfetto.dev with Open trace file"},
		{flag: "mermaid", path: o.Mermaid, write: mermaid.Write, done: "wrote the sequence diagram to %s: GitHub shows it as a picture; for a slide, paste a mermaid block into mermaid.live"},
		{flag: "html", path: o.HTML, write: htmlreport.Write, done: "wrote the report to %s: open it in a browser, or print it"},
	} {
		if e.path == "" {
			continue
		}
		if e.path == "-" {
			if e.flag != "mermaid" {
				ex.discard()
				return nil, &usageError{fmt.Errorf("--%s -: want a file name; only --mermaid can print to standard output", e.flag)}
			}
			if json {
				ex.discard()
				return nil, &usageError{errors.New("--mermaid - and --json both want standard output: write one of them to a file")}
			}
			ex.stdout = true
			continue
		}
		if err := ex.open(e, seen); err != nil {
			ex.discard()
			return nil, err
		}
	}
	return ex, nil
}

// open checks an export's file and opens a temporary file beside it, to
// be renamed into place once written; seen maps the files already taken
// to the flag that took each.
func (ex *exporter) open(e *export, seen map[string]string) error {
	// Write through a symbolic link to the file it names, and tell two
	// names for one file apart however they are spelled.
	target := e.path
	if t, err := filepath.EvalSymlinks(e.path); err == nil {
		target = t
	}
	dir := filepath.Dir(target)
	key := filepath.Join(dir, filepath.Base(target))
	if d, err := filepath.EvalSymlinks(dir); err == nil {
		key = filepath.Join(d, filepath.Base(target))
	}
	if abs, err := filepath.Abs(key); err == nil {
		key = abs
	}
	if other, ok := seen[key]; ok {
		return &usageError{fmt.Errorf("--%s %s: --%s writes that file too; give each its own name", e.flag, e.path, other)}
	}
	seen[key] = e.flag
	e.target = target
	if fi, err := os.Stat(target); err == nil && fi.IsDir() {
		return &usageError{fmt.Errorf("--%s %s: that is a directory; want a file name in it", e.flag, e.path)}
	}
	removeLeftovers(dir, filepath.Base(target))
	tmp, err := os.CreateTemp(dir, fmt.Sprintf(".%s.%d.*.tmp", filepath.Base(target), os.Getpid()))
	if err != nil {
		return &usageError{fmt.Errorf("--%s %s: %s", e.flag, e.path, cannotWrite(dir, err))}
	}
	e.tmp = tmp
	ex.files = append(ex.files, e)
	return nil
}

// removeLeftovers removes the temporary files that earlier runs left beside
// the target base in dir when they were killed before renaming them into
// place: each is named for its run's process, and that process is gone.
func removeLeftovers(dir, base string) {
	names, _ := filepath.Glob(filepath.Join(dir, "."+globQuote(base)+".*.*.tmp"))
	for _, name := range names {
		rest := strings.TrimPrefix(filepath.Base(name), "."+base+".")
		pid, err := strconv.Atoi(rest[:max(strings.IndexByte(rest, '.'), 0)])
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.Remove(name) // a leftover; if it is already gone, so much the better
		}
	}
}

// globQuote escapes the characters filepath.Match treats as patterns.
func globQuote(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`).Replace(s)
}

// cannotWrite says why a file cannot be created in dir.
func cannotWrite(dir string, err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("the directory %s does not exist; create it or pick another", dir)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Sprintf("no permission to write in %s; pick a directory you can write to", dir)
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Sprintf("cannot write in %s: %v", dir, err)
}

// finish writes the calls to every export, telling errOut where each went.
func (ex *exporter) finish(out, errOut io.Writer, calls ...*result.Result) error {
	if ex.stdout {
		var b bytes.Buffer
		if err := mermaid.Write(&b, calls...); err != nil {
			return err
		}
		if _, err := out.Write(b.Bytes()); err != nil {
			return fmt.Errorf("printing: %w", err)
		}
	}
	for _, e := range ex.files {
		err := e.write(e.tmp, calls...)
		if cerr := e.tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			// CreateTemp makes files only their owner can read; an
			// export is a document to share.
			err = os.Chmod(e.tmp.Name(), 0o644)
		}
		if err == nil {
			err = os.Rename(e.tmp.Name(), e.target)
		}
		if err != nil {
			ex.discard()
			return fmt.Errorf("--%s %s: %s", e.flag, e.path, cannotWrite(filepath.Dir(e.target), err))
		}
		e.tmp = nil
		fmt.Fprintf(errOut, "duplexdemo: "+e.done+"\n", e.path)
	}
	return nil
}

// discard removes the temporary files not yet renamed into place. It is
// safe to call more than once.
func (ex *exporter) discard() {
	for _, e := range ex.files {
		if e.tmp != nil {
			e.tmp.Close()
			os.Remove(e.tmp.Name())
			e.tmp = nil
		}
	}
}
