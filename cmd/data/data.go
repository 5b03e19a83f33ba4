// Package data implements `mlecs data`: importing the shipped raw datasets
// into mlecs-dataset/1 (`data import har|emoji`) and validating a dataset
// directory (`data check`).
package data

import (
	"errors"
	"log/slog"

	"github.com/spf13/cobra"
)

// Sentinel errors of the data commands.
var (
	// ErrUsage: missing or invalid arguments and flags.
	ErrUsage = errors.New("usage")
	// ErrInvalid: the checked dataset has problems (they are printed).
	ErrInvalid = errors.New("invalid dataset")
)

// NewCmd returns the data command with its subcommands.
func NewCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "data",
		Short: "Import and check datasets in the mlecs-dataset/1 format",
		Long: "A dataset is a directory with dataset.json and samples.jsonl (see DESIGN.md section 4).\n" +
			"`data import` converts the shipped raw datasets; `data check` validates any dataset.",
	}
	cmd.AddCommand(newImportCmd(), newCheckCmd())
	return cmd
}

// stderrLogger logs progress to the command's error stream.
func stderrLogger(cmd *cobra.Command) *slog.Logger {
	return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}
