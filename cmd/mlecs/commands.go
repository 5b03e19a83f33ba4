package main

import "github.com/spf13/cobra"

// subcommands lists every top-level command; one line per command package.
func subcommands() []*cobra.Command {
	return []*cobra.Command{}
}
