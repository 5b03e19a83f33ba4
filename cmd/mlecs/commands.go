package main

import (
	"github.com/spf13/cobra"

	"github.com/mlecs/mlecs/cmd/commbudget"
	"github.com/mlecs/mlecs/cmd/data"
	"github.com/mlecs/mlecs/cmd/keygen"
	nodecmd "github.com/mlecs/mlecs/cmd/node"
	"github.com/mlecs/mlecs/cmd/peers"
	"github.com/mlecs/mlecs/cmd/score"
	"github.com/mlecs/mlecs/cmd/status"
	"github.com/mlecs/mlecs/cmd/testnet"
)

// subcommands lists every top-level command; one line per command package.
func subcommands() []*cobra.Command {
	return []*cobra.Command{
		commbudget.NewCmd(),
		data.NewCmd(),
		keygen.NewCmd(),
		nodecmd.NewCmd(),
		peers.NewCmd(),
		score.NewCmd(),
		status.NewCmd(),
		testnet.NewCmd(),
	}
}
