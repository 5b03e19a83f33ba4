package main

import (
	"github.com/spf13/cobra"

	"github.com/mlecs/mlecs/cmd/commbudget"
	"github.com/mlecs/mlecs/cmd/data"
	"github.com/mlecs/mlecs/cmd/score"
)

// subcommands lists every top-level command; one line per command package.
func subcommands() []*cobra.Command {
	return []*cobra.Command{
		commbudget.NewCmd(),
		data.NewCmd(),
		score.NewCmd(),
	}
}
