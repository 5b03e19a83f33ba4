package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/mlecs/mlecs/storage"
)

// Trainer is the learning step plugged into the round protocol. Blobs are opaque to the node: the
// trainer defines and validates their encoding.
type Trainer interface {
	// Init returns the genesis global model (round 0) used when no checkpoint exists.
	Init(ctx context.Context) ([]byte, error)
	// LocalRound trains on local data starting from the global model of a round and returns the update.
	LocalRound(ctx context.Context, round uint64, global []byte) ([]byte, error)
	// Aggregate combines the round's updates with its global model into the next global model.
	Aggregate(ctx context.Context, round uint64, global []byte, updates [][]byte) ([]byte, error)
}

// JudgedAggregator is optionally implemented by a Trainer whose aggregation can tell which updates it
// refused (or capped) and why. The node then penalises each refused update's sender on the mesh
// (peer score) and counts it in mlecs_messages_refused_total{kind="update",reason}.
type JudgedAggregator interface {
	// AggregateJudged is Aggregate plus the refusals of this round's updates. Refused updates do not
	// fail the round; an error means no next global (e.g. every update was refused).
	AggregateJudged(ctx context.Context, round uint64, global []byte, updates [][]byte) ([]byte, []Refusal, error)
}

// StatefulTrainer is optionally implemented by a Trainer whose learner keeps private state across
// rounds (weights that never leave the node, optimiser moments, data order). The node saves it as a
// checkpoint of kind "learner" after every local round and hands the newest usable one back on start,
// so a restarted node continues its learner instead of starting it afresh.
type StatefulTrainer interface {
	// SaveState returns a copy of the learner's state (safe to keep while the trainer goes on).
	SaveState(ctx context.Context) (TrainerState, error)
	// RestoreState makes the learner continue from a saved state. It refuses a state that does not fit
	// (another run, node or strategy, a damaged tensor) with an error naming why, leaving the learner
	// as it was.
	RestoreState(ctx context.Context, s TrainerState) error
}

// TrainerState is a StatefulTrainer's learner state, stored as one checkpoint.
type TrainerState struct {
	Meta    map[string]string
	Tensors []storage.NamedTensor
}

// Refusal is one update that a judged aggregation refused or capped.
type Refusal struct {
	Index  int    // into the updates given to AggregateJudged
	Reason string // one of the Refuse* labels (a metric label and the mesh penalty reason)
}

// Refusal reasons: short, stable labels.
const (
	RefuseMalformed       = "update-malformed"        // the blob does not decode
	RefuseNonFinite       = "update-nonfinite"        // NaN or Inf in the update
	RefuseShape           = "update-shape"            // wrong tensor set or shape
	RefuseNorm            = "update-norm"             // delta norm above the round's cap
	RefuseInvalid         = "update-invalid"          // bad edge id, zero samples, unknown modality, wrong round
	RefuseDuplicate       = "update-duplicate"        // a second update of one edge in a round
	RefuseInflatedSamples = "update-inflated-samples" // accepted, but its sample count was capped
)

// ErrBadVector is returned when a vector blob is malformed.
var ErrBadVector = errors.New("bad parameter vector")

// ErrNonFinite is wrapped (with ErrBadVector) when a vector holds NaN or Inf.
var ErrNonFinite = errors.New("non-finite parameter")

// maxParamDim bounds the simple trainer's vector so a blob can never ask for more than 4 MiB.
const maxParamDim = 1 << 20

// vectorMagic starts every vector blob; the digit is the format version.
var vectorMagic = [4]byte{'M', 'L', 'V', '1'}

// Vector is the simple trainer's model: a parameter vector and the number of samples behind it.
type Vector struct {
	Weight uint32    // samples that produced it (FedAvg weight); 0 for a global model
	Params []float32 // the parameters
}

// EncodeVector writes v as: "MLV1" | dim uint32 | weight uint32 | dim float32, little endian.
func EncodeVector(v Vector) []byte {
	b := make([]byte, 12+4*len(v.Params))
	copy(b, vectorMagic[:])
	binary.LittleEndian.PutUint32(b[4:], uint32(len(v.Params)))
	binary.LittleEndian.PutUint32(b[8:], v.Weight)
	for i, p := range v.Params {
		binary.LittleEndian.PutUint32(b[12+4*i:], math.Float32bits(p))
	}
	return b
}

// DecodeVector reads a blob written by EncodeVector, refusing wrong sizes and non-finite values.
func DecodeVector(b []byte) (Vector, error) {
	if len(b) < 12 || [4]byte(b[:4]) != vectorMagic {
		return Vector{}, fmt.Errorf("%w: missing MLV1 header", ErrBadVector)
	}
	dim := binary.LittleEndian.Uint32(b[4:])
	if dim > maxParamDim || len(b) != 12+4*int(dim) {
		return Vector{}, fmt.Errorf("%w: dim %d does not match %d bytes", ErrBadVector, dim, len(b))
	}
	v := Vector{Weight: binary.LittleEndian.Uint32(b[8:]), Params: make([]float32, dim)}
	for i := range v.Params {
		p := math.Float32frombits(binary.LittleEndian.Uint32(b[12+4*i:]))
		if math.IsNaN(float64(p)) || math.IsInf(float64(p), 0) {
			return Vector{}, fmt.Errorf("%w: %w: parameter %d", ErrBadVector, ErrNonFinite, i)
		}
		v.Params[i] = p
	}
	return v, nil
}

var _ JudgedAggregator = (*VectorTrainer)(nil)

// VectorTrainer is a real but deliberately simple trainer: each node's private data is a target vector
// (drawn from its partition index) and its loss is 0.5*||w - target||^2; a local round takes Steps
// gradient steps from the global model and the anchor averages the updates weighted by sample count
// (FedAvg). The global model converges to the weighted mean of the targets, which tests can check.
type VectorTrainer struct {
	Dim     int
	Target  []float32 // this node's private optimum
	Samples uint32    // FedAvg weight of this node's updates
	Steps   int
	LR      float32
}

// NewVectorTrainer builds the trainer of one partition; the target is a deterministic function of it.
func NewVectorTrainer(dim, partition int) (*VectorTrainer, error) {
	if dim < 1 || dim > maxParamDim {
		return nil, fmt.Errorf("%w: dim %d out of 1..%d", ErrBadVector, dim, maxParamDim)
	}
	r := rand.New(rand.NewPCG(uint64(partition)+1, 0x6d6c656373))
	t := make([]float32, dim)
	for i := range t {
		t[i] = float32(r.NormFloat64())
	}
	return &VectorTrainer{Dim: dim, Target: t, Samples: uint32(10 + partition%7), Steps: 5, LR: 0.2}, nil
}

// Init returns the zero vector.
func (t *VectorTrainer) Init(context.Context) ([]byte, error) {
	return EncodeVector(Vector{Params: make([]float32, t.Dim)}), nil
}

// LocalRound takes Steps gradient steps towards the node's target.
func (t *VectorTrainer) LocalRound(ctx context.Context, _ uint64, global []byte) ([]byte, error) {
	g, err := t.decodeDim(global)
	if err != nil {
		return nil, fmt.Errorf("local round: global: %w", err)
	}
	w := g.Params
	for range t.Steps {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("local round: %w", err)
		}
		for i := range w {
			w[i] -= t.LR * (w[i] - t.Target[i]) // gradient of 0.5*(w-t)^2
		}
	}
	return EncodeVector(Vector{Weight: t.Samples, Params: w}), nil
}

// Aggregate is FedAvg: the sample-weighted mean of the valid updates (see AggregateJudged).
func (t *VectorTrainer) Aggregate(ctx context.Context, round uint64, global []byte, updates [][]byte) ([]byte, error) {
	out, _, err := t.AggregateJudged(ctx, round, global, updates)
	return out, err
}

// AggregateJudged is FedAvg over the updates that decode, are finite, have the right dimension and a
// non-zero weight; the others are refused (one bad update does not stop the round). It fails when no
// update is valid.
func (t *VectorTrainer) AggregateJudged(ctx context.Context, _ uint64, _ []byte, updates [][]byte) ([]byte, []Refusal, error) {
	sum := make([]float64, t.Dim)
	var total float64
	var refused []Refusal
	for i, b := range updates {
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("aggregate: %w", err)
		}
		u, err := t.decodeDim(b)
		switch {
		case errors.Is(err, ErrNonFinite):
			refused = append(refused, Refusal{Index: i, Reason: RefuseNonFinite})
			continue
		case err != nil:
			refused = append(refused, Refusal{Index: i, Reason: RefuseMalformed})
			continue
		case u.Weight == 0:
			refused = append(refused, Refusal{Index: i, Reason: RefuseInvalid})
			continue
		}
		wt := float64(u.Weight)
		for j, p := range u.Params {
			sum[j] += wt * float64(p)
		}
		total += wt
	}
	if total == 0 {
		return nil, refused, fmt.Errorf("aggregate: %w: none of %d updates is valid", ErrBadVector, len(updates))
	}
	out := make([]float32, t.Dim)
	for j := range out {
		out[j] = float32(sum[j] / total)
	}
	return EncodeVector(Vector{Params: out}), refused, nil
}

func (t *VectorTrainer) decodeDim(b []byte) (Vector, error) {
	v, err := DecodeVector(b)
	if err != nil {
		return Vector{}, err
	}
	if len(v.Params) != t.Dim {
		return Vector{}, fmt.Errorf("%w: dim %d, want %d", ErrBadVector, len(v.Params), t.Dim)
	}
	return v, nil
}
