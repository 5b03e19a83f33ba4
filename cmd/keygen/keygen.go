// Package keygen implements `mlecs keygen`: a node identity key and, optionally, a network key.
package keygen

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/mlecs/mlecs/node"
)

// ErrUsage is returned for missing or conflicting flags.
var ErrUsage = errors.New("usage")

type options struct {
	out string
	psk string
}

// NewCmd returns the keygen command.
func NewCmd() *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:   "keygen --out FILE [--psk FILE]",
		Short: "Generate an Ed25519 node key (prints its peer id) and/or a pre-shared network key",
		Long: "keygen writes a new Ed25519 libp2p private key to --out (mode 0600) and prints its peer id.\n" +
			"With --psk it also writes a new 32-byte private-network key in libp2p's PSK v1 text format;\n" +
			"every node of one mesh must be given the same PSK file. Existing files are never overwritten.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&o.out, "out", "", "file to write the node key to")
	cmd.Flags().StringVar(&o.psk, "psk", "", "also (or only) write a pre-shared network key to this file")
	return cmd
}

func (o *options) validate() error {
	if o.out == "" && o.psk == "" {
		return fmt.Errorf("%w: --out FILE (node key) or --psk FILE (network key) is required", ErrUsage)
	}
	if o.out != "" && o.out == o.psk {
		return fmt.Errorf("%w: --out and --psk name the same file", ErrUsage)
	}
	return nil
}

func (o *options) run(w io.Writer) error {
	if o.out != "" {
		id, err := node.GenerateKey(o.out)
		if err != nil {
			return err
		}
		fmt.Fprintln(w, id)
	}
	if o.psk != "" {
		if err := node.GeneratePSK(o.psk); err != nil {
			return err
		}
		fmt.Fprintf(w, "network key written to %s\n", o.psk)
	}
	return nil
}
