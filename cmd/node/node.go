// Package node implements `mlecs node start`: the daemon.
package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mlecs/mlecs/node"
)

// ErrUsage is returned for bad flags.
var ErrUsage = errors.New("usage")

type options struct {
	config   string
	logLevel string
	logJSON  bool

	// Overrides, applied only when the flag was given.
	dataDir, keyFile, pskFile, role, api, runID string
	listen, bootstrap, allow, modalities        []string
	partition, quorum, paramDim                 int
	heartbeat, lease, backoff, deadline         time.Duration
	metrics                                     bool
}

// NewCmd returns the node command with its start subcommand.
func NewCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "node", Short: "Run the mlecs daemon"}
	cmd.AddCommand(newStartCmd(&options{}))
	return cmd
}

func newStartCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "start [--config FILE] [flags]",
		Short: "Start a daemon: join the mesh, take part in anchor election and training rounds",
		Long: "start runs the daemon in the foreground until SIGINT or SIGTERM, then leaves gracefully\n" +
			"(an anchor releases its lease so the others re-elect at once). The config file is JSON\n" +
			"(fields as in `node.Config`); any flag given overrides the file.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.resolve(cmd.Flags())
			if err != nil {
				return err
			}
			log, err := newLogger(cmd.ErrOrStderr(), o.logLevel, o.logJSON)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return run(ctx, cfg, log)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.config, "config", "", "JSON config file")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.BoolVar(&o.logJSON, "log-json", false, "log JSON lines instead of text")
	f.StringVar(&o.dataDir, "data-dir", "", "data directory (Badger store, runtime files)")
	f.StringVar(&o.keyFile, "key", "", "node key file (default DATA_DIR/node.key, created if missing)")
	f.StringVar(&o.pskFile, "psk", "", "pre-shared network key file (mlecs keygen --psk)")
	f.StringVar(&o.role, "role", "", "edge, anchor-capable or anchor (pinned)")
	f.StringVar(&o.api, "api", "", "control API address (loopback only)")
	f.StringVar(&o.runID, "run-id", "", "run id; control messages of other runs are refused")
	f.StringSliceVar(&o.listen, "listen", nil, "libp2p listen multiaddrs")
	f.StringSliceVar(&o.bootstrap, "bootstrap", nil, "bootstrap multiaddrs ending in /p2p/PEER_ID")
	f.StringSliceVar(&o.allow, "allow", nil, "allowlisted peer ids")
	f.StringSliceVar(&o.modalities, "modalities", nil, "modalities this node holds")
	f.IntVar(&o.partition, "partition", 0, "data partition index")
	f.IntVar(&o.quorum, "quorum", 0, "updates that close a round")
	f.IntVar(&o.paramDim, "param-dim", 0, "parameter vector length of the simple trainer")
	f.DurationVar(&o.heartbeat, "heartbeat", 0, "heartbeat interval")
	f.DurationVar(&o.lease, "lease", 0, "anchor lease")
	f.DurationVar(&o.backoff, "backoff", 0, "max random backoff before claiming an expired lease")
	f.DurationVar(&o.deadline, "round-deadline", 0, "how long the anchor waits for updates")
	f.BoolVar(&o.metrics, "metrics", true, "serve Prometheus /metrics on the control API")
	return cmd
}

// resolve reads the config file (if any) and applies the flags that were given.
func (o *options) resolve(fs *pflag.FlagSet) (node.Config, error) {
	cfg := node.DefaultConfig()
	if o.config != "" {
		c, err := node.LoadConfig(o.config)
		if err != nil {
			return node.Config{}, err
		}
		cfg = c
	}
	set := func(name string, apply func()) {
		if fs.Changed(name) {
			apply()
		}
	}
	set("data-dir", func() { cfg.DataDir = o.dataDir })
	set("key", func() { cfg.KeyFile = o.keyFile })
	set("psk", func() { cfg.PSKFile = o.pskFile })
	set("role", func() { cfg.Role = node.Role(o.role) })
	set("api", func() { cfg.APIAddr = o.api })
	set("run-id", func() { cfg.RunID = o.runID })
	set("listen", func() { cfg.ListenAddrs = o.listen })
	set("bootstrap", func() { cfg.Bootstrap = o.bootstrap })
	set("allow", func() { cfg.Allowlist = o.allow })
	set("modalities", func() { cfg.Modalities = o.modalities })
	set("partition", func() { cfg.Partition = o.partition })
	set("quorum", func() { cfg.Quorum = o.quorum })
	set("param-dim", func() { cfg.ParamDim = o.paramDim })
	set("heartbeat", func() { cfg.Heartbeat = node.Duration(o.heartbeat) })
	set("lease", func() { cfg.Lease = node.Duration(o.lease) })
	set("backoff", func() { cfg.Backoff = node.Duration(o.backoff) })
	set("round-deadline", func() { cfg.RoundDeadline = node.Duration(o.deadline) })
	set("metrics", func() { cfg.Metrics = o.metrics })
	if err := cfg.Validate(); err != nil {
		return node.Config{}, err
	}
	return cfg, nil
}

func newLogger(w io.Writer, level string, asJSON bool) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, fmt.Errorf("%w: --log-level %q: %w", ErrUsage, level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	if asJSON {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

func run(ctx context.Context, cfg node.Config, log *slog.Logger) error {
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	n, err := node.New(startCtx, cfg, node.WithLogger(log))
	if err != nil {
		return err
	}
	return n.Run(ctx)
}
