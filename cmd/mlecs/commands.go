package main

import (
	"github.com/spf13/cobra"

	"github.com/mlecs/mlecs/cmd/baseline"
	"github.com/mlecs/mlecs/cmd/commbudget"
	"github.com/mlecs/mlecs/cmd/data"
	evalcmd "github.com/mlecs/mlecs/cmd/eval"
	experimentcmd "github.com/mlecs/mlecs/cmd/experiment"
	"github.com/mlecs/mlecs/cmd/keygen"
	nodecmd "github.com/mlecs/mlecs/cmd/node"
	"github.com/mlecs/mlecs/cmd/peers"
	"github.com/mlecs/mlecs/cmd/pretrain"
	"github.com/mlecs/mlecs/cmd/score"
	"github.com/mlecs/mlecs/cmd/status"
	"github.com/mlecs/mlecs/cmd/store"
	"github.com/mlecs/mlecs/cmd/testnet"
	"github.com/mlecs/mlecs/cmd/train"
)

// subcommands lists every top-level command; one line per command package.
func subcommands() []*cobra.Command {
	return []*cobra.Command{
		baseline.NewCmd(),
		commbudget.NewCmd(),
		data.NewCmd(),
		evalcmd.NewCmd(),
		experimentcmd.NewCmd(),
		keygen.NewCmd(),
		nodecmd.NewCmd(),
		peers.NewCmd(),
		pretrain.NewCmd(),
		score.NewCmd(),
		status.NewCmd(),
		store.NewCmd(),
		testnet.NewCmd(),
		train.NewCmd(),
	}
}
