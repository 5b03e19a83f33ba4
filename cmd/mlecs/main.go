// Command mlecs is the single binary of the mlecs learning mesh.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "mlecs:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "mlecs",
		Short:         "A peer-to-peer learning mesh for multimodal edge-cloud training (ML-ECS)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// Each subcommand lives in its own package under cmd/ and is added here.
	root.AddCommand(subcommands()...)
	return root
}
