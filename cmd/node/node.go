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

	// Training overrides.
	dataset, base, preset, method, codec            string
	steps, publicSteps, anchorSteps, batch, threads int
	lr, publicFraction                              float64
	seed                                            uint64
	wordHead                                        bool
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
			"(fields as in `node.Config`, see node/README.md); any flag given overrides the file.\n\n" +
			"Training: with --dataset (a mlecs-dataset/1 directory) and --base (a pretrained base from\n" +
			"`mlecs pretrain`, the same for every node) the node trains ML-ECS (--method) on its data: an edge\n" +
			"trains on its private samples and its share of the public set D' (train samples whose id hash\n" +
			"falls below --public-fraction); a pinned anchor tunes on D' with every modality of its dataset and\n" +
			"aggregates; an anchor-capable node trains as an edge and builds its anchor learner when elected.\n" +
			"Model directories go to DATA_DIR/model. Without --dataset the node runs the simple vector trainer.",
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
			applyMemoryLimit(log, "/sys/fs/cgroup")
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
	f.StringVar(&o.dataset, "dataset", "", "mlecs-dataset/1 directory to train ML-ECS on (empty: the simple vector trainer)")
	f.StringVar(&o.base, "base", "", "pretrained base LM directory (mlecs pretrain), shared by every node of the run")
	f.StringVar(&o.preset, "preset", "", "model preset: tiny or small (default tiny)")
	f.StringVar(&o.method, "method", "", "communicating strategy: mlecs, fedavg, fedprox, creamfl, fedmkt or an ablation (default mlecs)")
	f.IntVar(&o.steps, "steps", 0, "edge steps on its private data per round (default 20)")
	f.IntVar(&o.publicSteps, "public-steps", 0, "edge steps on its public share D'_j per round (default 5)")
	f.IntVar(&o.anchorSteps, "anchor-steps", 0, "anchor steps on D' per round (default 10)")
	f.IntVar(&o.batch, "batch", 0, "examples per step (default 16)")
	f.Float64Var(&o.lr, "lr", 0, "AdamW learning rate (default 0.005)")
	f.Float64Var(&o.publicFraction, "public-fraction", 0, "share of train samples (by id hash) in the public set D' (default 0.1)")
	f.StringVar(&o.codec, "codec", "", "payload tensor codec: fp32, fp16 or int8 (default fp32)")
	f.Uint64Var(&o.seed, "seed", 0, "model init and data order seed (default 1)")
	f.IntVar(&o.threads, "threads", 0, "compute threads (default 0: all cores)")
	f.BoolVar(&o.wordHead, "word-head", false, "give the models the word head (private to the node)")
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
	set("dataset", func() { cfg.Dataset = o.dataset })
	set("base", func() { cfg.Base = o.base })
	set("preset", func() { cfg.Preset = o.preset })
	set("method", func() { cfg.Method = o.method })
	set("steps", func() { cfg.Steps = o.steps })
	set("public-steps", func() { cfg.PublicSteps = o.publicSteps })
	set("anchor-steps", func() { cfg.AnchorSteps = o.anchorSteps })
	set("batch", func() { cfg.Batch = o.batch })
	set("lr", func() { cfg.LR = o.lr })
	set("public-fraction", func() { cfg.PublicFraction = o.publicFraction })
	set("codec", func() { cfg.Codec = o.codec })
	set("seed", func() { cfg.Seed = o.seed })
	set("threads", func() { cfg.Threads = o.threads })
	set("word-head", func() { cfg.WordHead = o.wordHead })
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
	opts := []node.Option{node.WithLogger(log)}
	if cfg.Dataset != "" {
		// Built before the start timeout runs: model setup, featurising and a pinned anchor's first
		// round take seconds to minutes depending on the preset and the machine.
		tr, closeFn, err := trainerFor(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer closeFn()
		opts = append(opts, node.WithTrainer(tr))
	}
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	n, err := node.New(startCtx, cfg, opts...)
	if err != nil {
		return err
	}
	return n.Run(ctx)
}
