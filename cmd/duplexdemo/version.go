package main

import (
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// buildInfo says which duplexdemo this is: the module's version (or
// "(devel)" for a build from a clone), the revision it was built from and
// whether the tree had changes, and the Go that built it. The classroom's
// protocol mismatch message asks for the same duplexdemo on both sides;
// this is how to tell.
func buildInfo() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "duplexdemo (version unknown: built without module information)"
	}
	version := bi.Main.Version
	if version == "" {
		version = "(devel)"
	}
	var rev, dirty, when string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = ", with local changes"
			}
		case "vcs.time":
			when = " of " + s.Value
		}
	}
	out := "duplexdemo " + version
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		out += fmt.Sprintf(" (revision %s%s%s)", rev, when, dirty)
	}
	return out + ", built with " + bi.GoVersion
}

// newCmdVersion builds the version command; the root's --version prints
// the same line.
func newCmdVersion(deps *env) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print which duplexdemo this is: version, revision, Go",
		Args:    noArgs,
		Example: "  duplexdemo version\n  duplexdemo --version",
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := io.WriteString(deps.Out, buildInfo()+"\n")
			return err
		},
	}
}
