// Package fedtrainer plugs the federated learners of training/federated into the node daemon: it
// implements node.Trainer with payload.Update and payload.Global bytes as the node's blobs, so the
// daemon's round protocol, blob transfer and validators carry ML-ECS (and every baseline that
// communicates). Hooks report, after every round, the payload part sizes and blob lengths that went
// over the mesh, so a runner can measure what was sent without a second accounting.
package fedtrainer

import (
	"errors"
	"fmt"
	"sync"

	"github.com/mlecs/mlecs/training/payload"
)

var (
	// ErrRole is returned when a node asks an edge trainer to aggregate or an anchor trainer to train.
	ErrRole = errors.New("trainer role")
	// ErrNoGlobal is returned by an edge for the placeholder genesis: it trains only on an anchor's global.
	ErrNoGlobal = errors.New("no global model from an anchor yet")
	// ErrDone is returned once the configured number of rounds has been trained or aggregated.
	ErrDone = errors.New("rounds done")
	// ErrOption marks an invalid option.
	ErrOption = errors.New("invalid fedtrainer option")
)

// defaultMaxBytes bounds a decoded payload: far above the small and tiny presets, well below memory.
const defaultMaxBytes = 1 << 30

// Transfer is one payload as it went over the mesh: the encoder's part sizes and the blob length.
type Transfer struct {
	Sizes payload.Sizes
	Bytes int64
}

// EdgeReport is what an edge did in one round: the global it received, the update it sent.
type EdgeReport struct {
	Edge   string
	Round  uint64 // the payload round (1-based)
	Down   Transfer
	Up     Transfer
	Update *payload.Update
}

// AnchorReport is one round the anchor closed: the updates it received (in arrival order), the number
// the aggregation rejected, and the next global it published.
type AnchorReport struct {
	Round    uint64 // the round the updates answered
	Updates  []Transfer
	Edges    []string // the edge of each update
	Rejected int
	Next     Transfer // the global of round Round+1
}

type options struct {
	codec     payload.Codec
	maxBytes  int64
	lock      sync.Locker
	maxRounds uint64
	runID     string
}

// Option configures a trainer.
type Option func(*options) error

// WithCodec sets the tensor codec of the payloads the trainer encodes (default fp32).
func WithCodec(c payload.Codec) Option {
	return func(o *options) error {
		if err := (&payload.Global{RunID: "x"}).Validate(c); err != nil {
			return fmt.Errorf("%w: codec: %w", ErrOption, err)
		}
		o.codec = c
		return nil
	}
}

// WithMaxBytes bounds every decoded payload (default 1 GiB).
func WithMaxBytes(n int64) Option {
	return func(o *options) error {
		if n < 1 || n > payload.MaxPayloadBytes {
			return fmt.Errorf("%w: max bytes %d not in [1, %d]", ErrOption, n, int64(payload.MaxPayloadBytes))
		}
		o.maxBytes = n
		return nil
	}
}

// WithComputeLock serialises the heavy work (training, aggregation, hooks) of every trainer sharing
// the lock: in-process meshes on a small machine otherwise oversubscribe the cores.
func WithComputeLock(l sync.Locker) Option {
	return func(o *options) error {
		if l == nil {
			return fmt.Errorf("%w: nil lock", ErrOption)
		}
		o.lock = l
		return nil
	}
}

// WithMaxRounds makes the trainer refuse rounds after the n-th (0: no limit), so an experiment stops
// exactly after n rounds with nothing more on the wire.
func WithMaxRounds(n uint64) Option {
	return func(o *options) error {
		o.maxRounds = n
		return nil
	}
}

// WithRunID sets the run id of the edge's placeholder genesis (default "default").
func WithRunID(id string) Option {
	return func(o *options) error {
		if err := (&payload.Global{RunID: id}).Validate(payload.FP32); err != nil {
			return fmt.Errorf("%w: run id: %w", ErrOption, err)
		}
		o.runID = id
		return nil
	}
}

func build(opts []Option) (options, error) {
	o := options{codec: payload.FP32, maxBytes: defaultMaxBytes, lock: &sync.Mutex{}, runID: "default"}
	for _, f := range opts {
		if f == nil {
			return o, fmt.Errorf("%w: nil option", ErrOption)
		}
		if err := f(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}
