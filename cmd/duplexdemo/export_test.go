package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestExports writes every export of walkie, phone and compare under the
// fake clock, and checks that each file is what its package writes for the
// same call (their golden files), that the usual picture is still printed,
// and that each file is announced on stderr.
func TestExports(t *testing.T) {
	for _, mode := range []string{"walkie", "phone", "compare"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			synctest.Test(t, func(t *testing.T) {
				deps, out, errOut := testDeps(false, nil)
				deps.Network = inMemory
				err := execute(deps, mode,
					"--trace-out", filepath.Join(dir, "t.json"),
					"--mermaid", filepath.Join(dir, "m.md"),
					"--html", filepath.Join(dir, "r.html"))
				if err != nil {
					t.Fatalf("%v (stderr %q)", err, errOut)
				}
				if !strings.Contains(out.String(), "grandma") || !strings.Contains(out.String(), "interruption") {
					t.Errorf("the usual picture is missing:\n%s", out)
				}
				for _, says := range []string{"t.json: open it at https://ui.perfetto.dev", "m.md", "r.html"} {
					if !strings.Contains(errOut.String(), says) {
						t.Errorf("stderr does not mention %q:\n%s", says, errOut)
					}
				}
			})
			for file, want := range map[string]string{
				"t.json": "../../pkg/view/traceevent/testdata/" + mode + ".trace.json",
				"m.md":   "../../pkg/view/mermaid/testdata/" + mode + ".md",
				"r.html": "../../pkg/view/htmlreport/testdata/" + mode + ".html",
			} {
				got, err := os.ReadFile(filepath.Join(dir, file))
				if err != nil {
					t.Fatal(err)
				}
				w, err := os.ReadFile(want)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, w) {
					t.Errorf("%s differs from %s, which the package writes for the same call", file, want)
				}
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 3 {
				t.Errorf("%d files in the directory, want the 3 exports and no temporary file: %v", len(entries), entries)
			}
		})
	}
}

// TestMermaidToStdout: with --mermaid -, standard output holds the diagram
// and nothing else, so that it can be piped or redirected.
func TestMermaidToStdout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		deps, out, errOut := testDeps(true, nil)
		deps.Network = inMemory
		if err := execute(deps, "phone", "--mermaid", "-"); err != nil {
			t.Fatalf("%v (stderr %q)", err, errOut)
		}
		want, err := os.ReadFile("../../pkg/view/mermaid/testdata/phone.md")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), want) {
			t.Errorf("stdout is not the diagram alone:\n%s", out)
		}
	})
}

// TestInterruptedExportsLeaveNothing: a call stopped midway writes no
// export, not even a temporary file.
func TestInterruptedExportsLeaveNothing(t *testing.T) {
	dir := t.TempDir()
	deps, _, _ := testDeps(false, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	root := newCmdRoot(deps)
	root.SetArgs([]string{"walkie", "--trace-out", filepath.Join(dir, "t.json"), "--html", filepath.Join(dir, "r.html")})
	if err := root.ExecuteContext(ctx); err == nil {
		t.Fatal("the call was not stopped")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("a stopped call left %v", entries)
	}
}

// TestExportThroughLinks: a symbolic link is written through, not replaced,
// and two names for one file, one of them through a linked directory, are
// refused before the call.
func TestExportThroughLinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.html")
	if err := os.WriteFile(target, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.html")
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	synctest.Test(t, func(t *testing.T) {
		deps, _, errOut := testDeps(false, nil)
		deps.Network = inMemory
		if err := execute(deps, "walkie", "--html", link); err != nil {
			t.Fatalf("%v (stderr %q)", err, errOut)
		}
	})
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v %v", fi.Mode(), err)
	}
	if b, err := os.ReadFile(target); err != nil || !strings.Contains(string(b), "<svg") {
		t.Errorf("the link's target was not written: %v", err)
	}

	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	linkedDir := filepath.Join(dir, "linked")
	if err := os.Symlink(sub, linkedDir); err != nil {
		t.Fatal(err)
	}
	deps, _, _ := testDeps(false, nil)
	err := execute(deps, "walkie", "--trace-out", filepath.Join(linkedDir, "x"), "--html", filepath.Join(sub, "x"))
	if err == nil || !strings.Contains(err.Error(), "give each its own name") {
		t.Errorf("two names for one file: got %v", err)
	}
	if entries, _ := os.ReadDir(sub); len(entries) != 0 {
		t.Errorf("a refused run left %v", entries)
	}
}
