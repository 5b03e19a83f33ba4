// Package peers implements `mlecs peers`: the peers a running daemon knows, from its control API.
package peers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlecs/mlecs/node"
)

// peersClient is what the command needs from the control API.
type peersClient interface {
	Peers(ctx context.Context) ([]node.PeerInfo, error)
}

type options struct {
	api    string
	json   bool
	now    func() time.Time
	client func(addr string) peersClient
}

// NewCmd returns the peers command.
func NewCmd() *cobra.Command {
	o := options{now: time.Now, client: func(addr string) peersClient { return node.Client{Addr: addr} }}
	cmd := &cobra.Command{
		Use:   "peers [--api ADDR] [--json]",
		Short: "List the peers of a running daemon: addresses, role, modalities, latency, score, traffic",
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
	ps, err := o.client(o.api).Peers(ctx)
	if err != nil {
		return err
	}
	if o.json {
		if ps == nil {
			ps = []node.PeerInfo{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(ps)
	}
	return printTable(w, ps, o.now())
}

func printTable(w io.Writer, ps []node.PeerInfo, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER ID\tADDRESSES\tROLE\tMODALITIES\tLATENCY\tSCORE\tLAST SEEN\tBYTES IN\tBYTES OUT")
	for _, p := range ps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.2f\t%s\t%s\t%s\n", p.PeerID, addrs(p.Addrs), dash(string(p.Role)),
			dash(strings.Join(p.Modalities, ",")), latency(p.LatencyMS), p.Score, ago(p.LastSeen, now),
			bytesStr(p.BytesIn), bytesStr(p.BytesOut))
	}
	return tw.Flush()
}

func addrs(a []string) string {
	switch len(a) {
	case 0:
		return "-"
	case 1:
		return a[0]
	}
	return fmt.Sprintf("%s (+%d)", a[0], len(a)-1)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func latency(ms float64) string {
	if ms <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fms", ms)
}

func ago(ts string, now time.Time) string {
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return "never"
	}
	return now.Sub(t).Round(100*time.Millisecond).String() + " ago"
}

func bytesStr(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
