// Package experiment implements `mlecs experiment run`: ML-ECS and its baselines side by side on one
// dataset, each method over an in-process mesh of real nodes on loopback (the daemon's round
// protocol, blobs and validators), writing results.json, report.md and PNG plots.
package experiment

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	exp "github.com/mlecs/mlecs/node/experiment"
)

// ErrUsage is returned for missing or invalid flags and config files.
var ErrUsage = errors.New("usage")

// maxConfigBytes bounds a config file: it is user input.
const maxConfigBytes = 1 << 20

type options struct {
	cfg              exp.RunConfig
	configFile, out  string
	seeds, methods   string
	verbose          bool
	roundDeadlineStr string
}

// NewCmd returns the experiment command with its run subcommand.
func NewCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "experiment",
		Short: "Run ML-ECS and baselines side by side and report the results",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newRunCmd())
	return cmd
}

func newRunCmd() *cobra.Command { return newRunCmdWith(&options{cfg: exp.DefaultRunConfig()}) }

// newRunCmdWith binds the flags to o (tests read the merged config from it).
func newRunCmdWith(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use: "run --dataset DIR --edges N --modality-plan mixed|full|single --rounds R --seeds 1,2,3 " +
			"--methods mlecs,fedavg,... --preset tiny|small --out DIR [--config FILE]",
		Short: "Run methods x seeds over an in-process loopback mesh; write results.json, report.md and plots",
		Long: "run starts, for every communicating method and seed, one pinned anchor and N edge nodes in this process\n" +
			"(libp2p on 127.0.0.1, a fresh PSK and an allowlist of exactly these peers) with the node daemon's round\n" +
			"protocol, and trains R rounds; local and centralized train the same learners without a mesh. D' is\n" +
			"--public-fraction of the train split (by a hash of the id); the rest is split over the edges by group when\n" +
			"the dataset has at least N groups, else by a hash of the id. Every model is evaluated on the test split\n" +
			"after every round. --config FILE reads the same settings as JSON (field names as the flags with _ for -);\n" +
			"flags given on the command line override the file. Progress goes to stderr.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.config(cmd.Flags())
			if err != nil {
				return err
			}
			return o.run(cmd, c, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	c := &o.cfg
	f.StringVar(&o.configFile, "config", "", "JSON config file (flags override it)")
	f.StringVar(&o.out, "out", "", "output directory (results.json, report.md, plots)")
	f.StringVar(&c.Dataset, "dataset", "", "mlecs-dataset/1 directory")
	f.IntVar(&c.Edges, "edges", c.Edges, "edge nodes")
	f.StringVar(&c.ModalityPlan, "modality-plan", c.ModalityPlan, "modalities per edge: mixed, full or single")
	f.IntVar(&c.Rounds, "rounds", c.Rounds, "rounds per method and seed")
	f.StringVar(&o.seeds, "seeds", "1", "comma-separated seeds")
	f.StringVar(&o.methods, "methods", strings.Join(c.Methods, ","), "comma-separated methods (mlecs, mlecs-no-ccl, mlecs-no-amt, "+
		"mlecs-no-mma, mlecs-no-seccl, local, fedavg, fedprox, creamfl, fedmkt, centralized)")
	f.StringVar(&c.Preset, "preset", c.Preset, "model preset: tiny or small")
	f.StringVar(&c.Base, "base", "", "pretrained base (mlecs pretrain dir or GPT-2 .safetensors); default: pretrain one")
	f.StringVar(&c.BPEDir, "bpe", "", "GPT-2 BPE directory; default $MLECS_BPE or shared/data/gpt2-bpe")
	f.IntVar(&c.PretrainSteps, "pretrain-steps", c.PretrainSteps, "steps of the base pretraining when --base is not given")
	f.Float64Var(&c.PublicFraction, "public-fraction", c.PublicFraction, "share of the train split that is the public set D'")
	f.Float64Var(&c.MissingRate, "missing-rate", c.MissingRate, "drop each modality of each sample with this probability (never all)")
	f.IntVar(&c.TrainSamples, "train-samples", c.TrainSamples, "cap on train samples, evenly spread (0: all)")
	f.IntVar(&c.TestSamples, "test-samples", c.TestSamples, "cap on test samples, evenly spread (0: all)")
	f.IntVar(&c.Steps, "steps", c.Steps, "local steps on an edge's private data per round")
	f.IntVar(&c.PublicSteps, "public-steps", c.PublicSteps, "edge steps on its share of D' per round")
	f.IntVar(&c.AnchorSteps, "anchor-steps", c.AnchorSteps, "anchor steps on D' per round")
	f.IntVar(&c.Predictions, "predictions", c.Predictions, "public predictions sent in each update")
	f.IntVar(&c.Batch, "batch", c.Batch, "samples per step")
	f.Float64Var(&c.LR, "lr", c.LR, "AdamW learning rate")
	f.StringVar(&c.Codec, "codec", c.Codec, "payload tensor codec: fp32, fp16 or int8")
	f.IntVar(&c.Threads, "threads", 0, "worker threads (0: all cores)")
	f.StringVar(&o.roundDeadlineStr, "round-deadline", c.RoundDeadline.String(), "how long the anchor waits for every edge's update")
	f.StringVar(&c.WorkDir, "work-dir", "", "node stores and models (default: a temp dir removed at the end)")
	f.BoolVar(&c.EvalInitial, "eval-initial", false, "also evaluate every model before its first round")
	f.BoolVar(&c.WordHead, "word-head", false, "give every method's models the word head (a logit bias from the fused representation and the text's tokens)")
	f.StringVar(&c.Attack, "attack", "", "model poisoning by the first --attackers edges: signflip (upload -S x delta) or scale (S x delta)")
	f.IntVar(&c.Attackers, "attackers", 0, "edges that poison their shared-LoRA delta (with --attack)")
	f.Float64Var(&c.AttackScale, "attack-scale", c.AttackScale, "S of --attack")
	f.StringVar(&c.Robust, "robust", c.Robust, "anchor aggregation rule: none (weighted mean), trimmed or median (both with norm and sample caps)")
	f.Float64Var(&c.Trim, "trim", c.Trim, "fraction trimmed at each end by --robust trimmed")
	f.BoolVar(&o.verbose, "verbose", false, "log the nodes' info messages to stderr")
	return cmd
}

// fileConfig is the JSON config file: the RunConfig fields plus the output dir and the deadline.
type fileConfig struct {
	exp.RunConfig
	Out           string `json:"out"`
	RoundDeadline string `json:"round_deadline"`
}

// config merges defaults, the config file and the flags that were set, and validates the result.
func (o *options) config(fs *pflag.FlagSet) (exp.RunConfig, error) {
	if o.configFile != "" {
		changed := map[string]string{}
		fs.Visit(func(f *pflag.Flag) { changed[f.Name] = f.Value.String() })
		fc, err := readConfig(o.configFile)
		if err != nil {
			return exp.RunConfig{}, err
		}
		o.cfg = fc.RunConfig
		if fc.Out != "" {
			o.out = fc.Out
		}
		if fc.RoundDeadline != "" {
			o.roundDeadlineStr = fc.RoundDeadline
		}
		if len(fc.Seeds) > 0 {
			o.seeds = joinSeeds(fc.Seeds)
		}
		if len(fc.Methods) > 0 {
			o.methods = strings.Join(fc.Methods, ",")
		}
		for name, v := range changed { // flags win over the file
			if err := fs.Set(name, v); err != nil {
				return exp.RunConfig{}, fmt.Errorf("%w: --%s: %w", ErrUsage, name, err)
			}
		}
	}
	c := o.cfg
	if o.out == "" {
		return c, fmt.Errorf("%w: --out is required", ErrUsage)
	}
	var err error
	if c.Seeds, err = exp.ParseSeeds(o.seeds); err != nil {
		return c, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	c.Methods = nil
	for _, m := range strings.Split(o.methods, ",") {
		if m = strings.TrimSpace(m); m != "" {
			c.Methods = append(c.Methods, m)
		}
	}
	if c.RoundDeadline, err = time.ParseDuration(o.roundDeadlineStr); err != nil {
		return c, fmt.Errorf("%w: --round-deadline %q: %w", ErrUsage, o.roundDeadlineStr, err)
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	return c, nil
}

func joinSeeds(s []uint64) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ",")
}

// readConfig reads a JSON config over the defaults; unknown fields are an error.
func readConfig(path string) (fileConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return fileConfig{}, fmt.Errorf("%w: config: %w", ErrUsage, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return fileConfig{}, fmt.Errorf("%w: config %s: %w", ErrUsage, path, err)
	}
	if len(b) > maxConfigBytes {
		return fileConfig{}, fmt.Errorf("%w: config %s: larger than %d bytes", ErrUsage, path, maxConfigBytes)
	}
	fc := fileConfig{RunConfig: exp.DefaultRunConfig()}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fc); err != nil {
		return fileConfig{}, fmt.Errorf("%w: config %s: %w", ErrUsage, path, err)
	}
	if fc.Dataset != "" && !filepath.IsAbs(fc.Dataset) {
		fc.Dataset = filepath.Join(filepath.Dir(path), fc.Dataset) // relative to the config file
	}
	return fc, nil
}

func (o *options) run(cmd *cobra.Command, c exp.RunConfig, stdout, stderr io.Writer) error {
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelInfo
	}
	c.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	c.Progress = stderr
	start := time.Now()
	res, _, err := exp.ExecuteAndWrite(cmd.Context(), c, o.out)
	if err != nil {
		return err
	}
	summary := map[string]any{"out": o.out, "results": filepath.Join(o.out, exp.ResultsFile),
		"report": filepath.Join(o.out, exp.ReportFile), "wall_seconds": time.Since(start).Seconds(), "methods": res.MethodNames()}
	if g, err := res.Gain(); err == nil {
		summary["gain_over_best_baseline"] = map[string]any{"baseline": g.Baseline, "absolute": g.Absolute}
	}
	raw, err := json.Marshal(summary)
	if err != nil {
		return fmt.Errorf("experiment: %w", err)
	}
	fmt.Fprintln(stdout, string(raw))
	return nil
}
