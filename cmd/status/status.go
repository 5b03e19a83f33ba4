// Package status implements `mlecs status`: a running daemon's state from its control API.
package status

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mlecs/mlecs/node"
)

// statusClient is what the command needs from the control API.
type statusClient interface {
	Status(ctx context.Context) (node.Status, error)
}

type options struct {
	api    string
	json   bool
	client func(addr string) statusClient
}

// NewCmd returns the status command.
func NewCmd() *cobra.Command {
	o := options{client: func(addr string) statusClient { return node.Client{Addr: addr} }}
	cmd := &cobra.Command{
		Use:   "status [--api ADDR] [--json]",
		Short: "Show a running daemon's peer id, role, anchor, term and round",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&o.api, "api", node.DefaultAPIAddr, "control API address of the daemon")
	cmd.Flags().BoolVar(&o.json, "json", false, "print machine-readable JSON")
	return cmd
}

func (o *options) run(ctx context.Context, w io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	s, err := o.client(o.api).Status(ctx)
	if err != nil {
		return err
	}
	if o.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	return printStatus(w, s)
}

// peakRSS renders one of the daemon's memory high-water marks (0: the kernel did not report it).
func peakRSS(b int64) string {
	if b <= 0 {
		return "(unknown)"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

func printStatus(w io.Writer, s node.Status) error {
	anchor := s.Anchor
	switch {
	case anchor == "":
		anchor = "(none)"
	case anchor == s.PeerID:
		anchor += " (this node)"
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	rows := [][2]string{
		{"peer id", s.PeerID},
		{"pid", fmt.Sprint(s.PID)},
		{"role", string(s.Role)},
		{"anchor", anchor},
		{"term", fmt.Sprint(s.Term)},
		{"round", fmt.Sprint(s.Round)},
		{"phase", string(s.Phase)},
		{"run id", s.RunID},
		{"modalities", strings.Join(s.Modalities, ",")},
		{"uptime", fmt.Sprintf("%.1fs", s.UptimeS)},
		{"peak rss", peakRSS(s.PeakRSS)},
		{"peak anon rss", peakRSS(s.PeakAnon)},
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], r[1])
	}
	for i, a := range s.ListenAddrs {
		label := ""
		if i == 0 {
			label = "listen:"
		}
		fmt.Fprintf(tw, "%s\t%s\n", label, a)
	}
	return tw.Flush()
}
