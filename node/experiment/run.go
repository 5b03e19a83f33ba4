package experiment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mlecs/mlecs/training/federated"
	"github.com/mlecs/mlecs/training/nn"
	"github.com/mlecs/mlecs/training/payload"
)

// ErrRunConfig marks an invalid experiment configuration; the message names the field.
var ErrRunConfig = errors.New("invalid experiment config")

// Modality plans: which modalities each edge holds.
const (
	PlanFull   = "full"   // every edge holds every modality
	PlanSingle = "single" // edge j holds modality j mod M (sorted names)
	PlanMixed  = "mixed"  // edge j holds subset j mod S of: all, each single, then the other subsets
)

// RunConfig configures an experiment run (mlecs experiment run). JSON field names are the config file's.
type RunConfig struct {
	Dataset      string   `json:"dataset"`       // a mlecs-dataset/1 directory
	Edges        int      `json:"edges"`         // N edge nodes
	ModalityPlan string   `json:"modality_plan"` // full, single or mixed
	Rounds       int      `json:"rounds"`        // R rounds per method and seed
	Seeds        []uint64 `json:"seeds"`
	Methods      []string `json:"methods"`   // strategies of training/federated
	Preset       string   `json:"preset"`    // tiny or small
	WordHead     bool     `json:"word_head"` // every method's models get the word head (model.Config.WordHead)

	Base          string `json:"base"`           // pretrained base (model.Pretrain dir or GPT-2 .safetensors); "": pretrain one
	BPEDir        string `json:"bpe"`            // GPT-2 BPE files; "": $MLECS_BPE or shared/data/gpt2-bpe
	PretrainSteps int    `json:"pretrain_steps"` // steps of the base pretraining when Base is empty

	// PublicFraction of the train split (chosen by a hash of the id) is the public set D' held by the
	// anchor; edge j's share D'_j is D' restricted to edge j's modalities. The rest is split over edges.
	PublicFraction float64 `json:"public_fraction"`
	// MissingRate drops each modality of each sample with this probability (never all of a sample's).
	MissingRate float64 `json:"missing_rate"`
	// TrainSamples and TestSamples cap the splits (evenly spread over the file); 0 keeps all.
	TrainSamples int `json:"train_samples"`
	TestSamples  int `json:"test_samples"`

	Steps       int     `json:"steps"`        // local steps on D_j per round
	PublicSteps int     `json:"public_steps"` // edge steps on D'_j per round
	AnchorSteps int     `json:"anchor_steps"` // anchor steps on D' per round
	Predictions int     `json:"predictions"`  // public predictions per update
	Batch       int     `json:"batch"`
	LR          float64 `json:"lr"`
	Codec       string  `json:"codec"`   // fp32, fp16 or int8
	Threads     int     `json:"threads"` // 0: all cores
	// RoundDeadline is how long the anchor waits for every edge's update (quorum is all edges).
	RoundDeadline time.Duration `json:"-"`
	// BlobRetention is the nodes' blob_retention (0: the node default, node/prune.go); the soak sets
	// it short so that pruning reaches its steady state early in a run.
	BlobRetention time.Duration `json:"-"`
	// LearnerCheckpointEvery is the edges' learner_checkpoint_every (node.Config); 0 in experiments,
	// which never restart a node. The soak can set it.
	LearnerCheckpointEvery int `json:"-"`
	// EvalInitial also evaluates every model before its first round (Outcome.Initial).
	EvalInitial bool `json:"eval_initial"`

	// Attack makes the first Attackers edges poison the shared-LoRA delta they upload (AttackSignFlip:
	// -AttackScale x delta; AttackScale: AttackScale x delta); "" runs every edge honestly.
	Attack      string  `json:"attack"`
	Attackers   int     `json:"attackers"`
	AttackScale float64 `json:"attack_scale"`
	// Robust is the anchor's aggregation rule: RobustNone, RobustTrimmed (Trim per end) or RobustMedian.
	Robust string  `json:"robust"`
	Trim   float64 `json:"trim"`

	WorkDir  string       `json:"-"` // node stores, sessions, pretrained base; "": a temp dir removed at the end
	Progress io.Writer    `json:"-"` // one line per round; nil: none
	Log      *slog.Logger `json:"-"` // nil: discard
}

// DefaultRunConfig returns the defaults of every field a flag or config file leaves unset.
func DefaultRunConfig() RunConfig {
	return RunConfig{Edges: 3, ModalityPlan: PlanMixed, Rounds: 5, Seeds: []uint64{1}, Methods: []string{"mlecs", "local", "fedavg"},
		Preset: "tiny", PretrainSteps: 200, PublicFraction: 0.1, Steps: 20, PublicSteps: 5, AnchorSteps: 10, Predictions: 4,
		Batch: 16, LR: 5e-3, Codec: "fp32", TestSamples: 64, RoundDeadline: 30 * time.Minute,
		AttackScale: 1, Robust: RobustNone, Trim: 0.3}
}

// Validate names the first invalid field.
func (c *RunConfig) Validate() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("%w: %s: %v, want %s", ErrRunConfig, field, v, want)
	}
	switch {
	case c.Dataset == "":
		return bad("dataset", `""`, "a dataset directory")
	case c.Edges < 1 || c.Edges > 64:
		return bad("edges", c.Edges, "1..64")
	case c.ModalityPlan != PlanFull && c.ModalityPlan != PlanSingle && c.ModalityPlan != PlanMixed:
		return bad("modality_plan", c.ModalityPlan, "full, single or mixed")
	case c.Rounds < 1 || c.Rounds > 10000:
		return bad("rounds", c.Rounds, "1..10000")
	case len(c.Seeds) == 0:
		return bad("seeds", "none", "at least one")
	case len(c.Methods) == 0:
		return bad("methods", "none", "at least one")
	case c.Preset != "tiny" && c.Preset != "small":
		return bad("preset", c.Preset, "tiny or small")
	case c.Base == "" && c.PretrainSteps < 1:
		return bad("pretrain_steps", c.PretrainSteps, ">= 1 when no base is given")
	case !(c.PublicFraction > 0 && c.PublicFraction < 1):
		return bad("public_fraction", c.PublicFraction, "in (0, 1)")
	case !(c.MissingRate >= 0 && c.MissingRate < 1):
		return bad("missing_rate", c.MissingRate, "in [0, 1)")
	case c.TrainSamples < 0 || c.TestSamples < 0:
		return bad("train_samples/test_samples", fmt.Sprint(c.TrainSamples, "/", c.TestSamples), ">= 0")
	case c.Steps < 0 || c.PublicSteps < 0 || c.Steps+c.PublicSteps == 0:
		return bad("steps/public_steps", fmt.Sprint(c.Steps, "/", c.PublicSteps), ">= 0 and not both 0")
	case c.AnchorSteps < 0 || c.Predictions < 0:
		return bad("anchor_steps/predictions", fmt.Sprint(c.AnchorSteps, "/", c.Predictions), ">= 0")
	case c.Batch < 1 || c.Batch > 1024:
		return bad("batch", c.Batch, "1..1024")
	case !(c.LR > 0 && c.LR < 1):
		return bad("lr", c.LR, "in (0, 1)")
	case c.Threads < 0:
		return bad("threads", c.Threads, ">= 0")
	case c.RoundDeadline <= 0:
		return bad("round_deadline", c.RoundDeadline, "> 0")
	case c.BlobRetention != 0 && c.BlobRetention < 2*c.RoundDeadline:
		return bad("blob_retention", c.BlobRetention, "0 or >= 2 round deadlines")
	}
	if _, err := payload.ParseCodec(c.Codec); err != nil {
		return fmt.Errorf("%w: codec: %w", ErrRunConfig, err)
	}
	if err := c.validateAttack(); err != nil {
		return err
	}
	for i, s := range c.Seeds {
		if slices.Contains(c.Seeds[:i], s) {
			return bad("seeds", s, "each seed once")
		}
	}
	for i, m := range c.Methods {
		if _, err := federated.ParseStrategy(m); err != nil {
			return fmt.Errorf("%w: methods: %w", ErrRunConfig, err)
		}
		if slices.Contains(c.Methods[:i], m) {
			return bad("methods", m, "each method once")
		}
	}
	return nil
}

// ParseSeeds reads "1,2,3".
func ParseSeeds(s string) ([]uint64, error) {
	var out []uint64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: seeds: %q is not an unsigned integer", ErrRunConfig, f)
		}
		out = append(out, v)
	}
	return out, nil
}

// MeshStat is what the node daemons themselves counted in one meshed run: blob bytes fetched from
// peers by the edges (globals) and by the anchor (updates), and the size of the global published after
// the last round (edges may or may not have fetched it before the mesh stopped).
type MeshStat struct {
	Method          string
	Seed            uint64
	EdgeFetched     int64
	AnchorFetched   int64
	LastGlobalBytes int64
	Rejected        int // updates the anchor's aggregation rejected over the run (attacks, robust caps)
}

// InitialEval is a model's evaluation before its first round (RunConfig.EvalInitial); Node is the
// edge id or "anchor".
type InitialEval struct {
	Method string
	Seed   uint64
	Node   string
	Eval   Eval
}

// Outcome is what Execute measured: the measurements to summarise, the daemons' own byte counts and
// the untrained evaluations when asked for.
type Outcome struct {
	Measurements Measurements
	Mesh         []MeshStat
	Initial      []InitialEval
}

// Execute runs every method under every seed and returns the measurements. Methods that communicate run
// over an in-process mesh of real nodes on loopback (1 anchor + N edges, PSK and allowlist); local
// and centralized train the same learners without a mesh and are measured the same way.
func Execute(ctx context.Context, c RunConfig) (*Outcome, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	work := c.WorkDir
	if work == "" {
		d, err := os.MkdirTemp("", "mlecs-experiment-")
		if err != nil {
			return nil, fmt.Errorf("experiment: work dir: %w", err)
		}
		defer os.RemoveAll(d)
		work = d
	}
	pool := nn.NewPool(c.Threads)
	defer pool.Close()
	w, err := loadWorld(ctx, c, work, pool)
	if err != nil {
		return nil, err
	}
	out := &Outcome{Measurements: Measurements{Dataset: w.ds.Name, Preset: c.Preset, Rounds: c.Rounds,
		Seeds: slices.Clone(c.Seeds), Settings: w.settings(c)}}
	for _, method := range c.Methods {
		mr := MethodRuns{Method: method}
		for _, seed := range c.Seeds {
			mo, err := runMethod(ctx, c, w, work, pool, method, seed)
			if err != nil {
				return nil, fmt.Errorf("experiment: %s seed %d: %w", method, seed, err)
			}
			mr.EdgeModelParams = mo.params
			mr.Runs = append(mr.Runs, mo.run)
			if mo.mesh != nil {
				out.Mesh = append(out.Mesh, *mo.mesh)
			}
			out.Initial = append(out.Initial, mo.initial...)
		}
		out.Measurements.Methods = append(out.Measurements.Methods, mr)
	}
	return out, nil
}

// ExecuteAndWrite runs the experiment and writes results.json, the plots and report.md into dir.
func ExecuteAndWrite(ctx context.Context, c RunConfig, dir string) (Results, *Outcome, error) {
	out, err := Execute(ctx, c)
	if err != nil {
		return Results{}, nil, err
	}
	res, err := Summarize(out.Measurements)
	if err != nil {
		return Results{}, out, err
	}
	if _, err := WriteAll(dir, res); err != nil {
		return res, out, err
	}
	return res, out, nil
}
