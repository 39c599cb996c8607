package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newCmdMan builds the hidden man command: man pages for every command,
// generated from the same help the commands show, written to a directory.
func newCmdMan(deps *env) *cobra.Command {
	return &cobra.Command{
		Use:     "man DIR",
		Short:   "Write a man page for every command to DIR",
		Hidden:  true,
		Example: "  duplexdemo man ./man && man ./man/duplexdemo.1",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{fmt.Errorf("%s takes one directory to write the pages to", cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return fmt.Errorf("man: %w", err)
			}
			header := &doc.GenManHeader{Title: "DUPLEXDEMO", Section: "1", Source: buildInfo()}
			if err := doc.GenManTree(cmd.Root(), header, args[0]); err != nil {
				return fmt.Errorf("man: %w", err)
			}
			fmt.Fprintf(deps.ErrOut, "duplexdemo: wrote the man pages to %s\n", args[0])
			return nil
		},
	}
}
