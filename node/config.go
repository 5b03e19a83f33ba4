package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/mlecs/mlecs/mesh/wire"
	"github.com/mlecs/mlecs/training/federated"
	"github.com/mlecs/mlecs/training/payload"
)

// Role says what a node may do in anchor election.
type Role string

const (
	// RoleEdge trains locally and never becomes anchor.
	RoleEdge Role = "edge"
	// RoleAnchorCapable trains locally and may be elected anchor.
	RoleAnchorCapable Role = "anchor-capable"
	// RoleAnchor is a pinned (cloud) anchor: it wins the election whenever it is alive.
	RoleAnchor Role = "anchor"
)

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool {
	return r == RoleEdge || r == RoleAnchorCapable || r == RoleAnchor
}

// CanAnchor reports whether a node of this role may hold the anchor lease.
func (r Role) CanAnchor() bool { return r == RoleAnchorCapable || r == RoleAnchor }

// Duration is a time.Duration that reads and writes JSON as a Go duration string ("200ms", "1s").
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "1.5s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string such as "200ms".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"200ms\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Config is the daemon's configuration. It is read from a JSON file; command-line flags override fields.
type Config struct {
	DataDir       string   `json:"data_dir"`       // Badger store and runtime files
	KeyFile       string   `json:"key_file"`       // libp2p private key (mlecs keygen); default DATA_DIR/node.key
	ListenAddrs   []string `json:"listen_addrs"`   // libp2p multiaddrs
	Bootstrap     []string `json:"bootstrap"`      // multiaddrs with /p2p/ID of peers to dial at start
	PSKFile       string   `json:"psk_file"`       // optional pre-shared network key (private network)
	Allowlist     []string `json:"allowlist"`      // optional peer IDs allowed to connect; empty = any holder of the PSK
	Role          Role     `json:"role"`           // edge, anchor-capable, anchor
	Modalities    []string `json:"modalities"`     // modalities this node holds (advertised)
	Partition     int      `json:"partition"`      // index of this node's data partition
	APIAddr       string   `json:"api_addr"`       // control API, loopback only; port 0 picks a free port
	RunID         string   `json:"run_id"`         // every control message carries it; others are refused
	Heartbeat     Duration `json:"heartbeat"`      // heartbeat interval
	Lease         Duration `json:"lease"`          // anchor lease; must exceed 2 heartbeats
	Backoff       Duration `json:"backoff"`        // max randomised wait before claiming an expired lease
	Quorum        int      `json:"quorum"`         // updates that close a round before the deadline
	RoundDeadline Duration `json:"round_deadline"` // anchor waits this long for updates
	// MinRoundInterval is the least time between the starts of two rounds an anchor runs: with a fast
	// trainer and quorum reached at once, rounds would otherwise spin at tens per second. 0 = no limit.
	MinRoundInterval Duration `json:"min_round_interval"`
	// BlobRetention is how old a blob no retained checkpoint or current round uses must be before it
	// is pruned. 0 = the default, max(5 min, 10 round deadlines); else at least 2 round deadlines.
	BlobRetention Duration `json:"blob_retention"`
	// LearnerCheckpointEvery saves a StatefulTrainer's learner after every that many local rounds trained
	// since start, and restores the newest on start (node/README.md, "Learner state"); 0 = never. Default
	// 5: a restart loses at most 4 rounds of private learning, and an emoji edge's 7.2 MB learner is
	// written that often as a file in DATA_DIR/learner (3 kept), outside Badger.
	LearnerCheckpointEvery int  `json:"learner_checkpoint_every"`
	Metrics                bool `json:"metrics"`   // serve Prometheus /metrics
	ParamDim               int  `json:"param_dim"` // length of the simple trainer's parameter vector

	// ML-ECS training (used when Dataset is set; without it the node trains the simple VectorTrainer).
	Dataset string `json:"dataset"` // this node's mlecs-dataset/1 directory (private share + the public D')
	// Base is the pretrained base LM directory (`mlecs pretrain`) every node of the run shares, so all
	// have the same frozen backbone and vocabulary.
	Base           string  `json:"base"`
	Preset         string  `json:"preset"`          // tiny or small: encoder and connector sizes
	Method         string  `json:"method"`          // a communicating strategy of training/federated (mlecs, fedavg, ...)
	Steps          int     `json:"steps"`           // local steps on the private data per round
	PublicSteps    int     `json:"public_steps"`    // edge steps on its public share D'_j per round
	AnchorSteps    int     `json:"anchor_steps"`    // anchor steps on D' per round
	Batch          int     `json:"batch"`           // examples per step
	LR             float64 `json:"lr"`              // AdamW learning rate
	PublicFraction float64 `json:"public_fraction"` // train samples whose id hash falls below it form D'
	Codec          string  `json:"codec"`           // payload tensor codec: fp32, fp16, int8
	Seed           uint64  `json:"seed"`            // model init and data order (the anchor's also the shared LoRA's)
	WordHead       bool    `json:"word_head"`       // models get the word head (model.Config.WordHead)
	Threads        int     `json:"threads"`         // compute threads; 0 = all cores
}

// ErrConfig is wrapped by every configuration validation error.
var ErrConfig = errors.New("invalid config")

// DefaultConfig returns the values used for fields a file or flag leaves unset.
func DefaultConfig() Config {
	return Config{
		ListenAddrs:      []string{"/ip4/127.0.0.1/tcp/0"},
		Role:             RoleEdge,
		APIAddr:          DefaultAPIAddr,
		RunID:            "default",
		Heartbeat:        Duration(time.Second),
		Lease:            Duration(5 * time.Second),
		Backoff:          Duration(time.Second),
		Quorum:           1,
		RoundDeadline:    Duration(10 * time.Second),
		MinRoundInterval: Duration(time.Second),
		Metrics:          true,
		ParamDim:         64,
		Preset:           "tiny",
		Method:           "mlecs",
		Steps:            20,
		PublicSteps:      5,
		AnchorSteps:      10,
		Batch:            16,
		LR:               5e-3,
		PublicFraction:   0.1,
		Codec:            "fp32",
		Seed:             1,

		LearnerCheckpointEvery: 5,
	}
}

// maxConfigBytes bounds a config file: it is user input and must not exhaust memory.
const maxConfigBytes = 1 << 20

// LoadConfig reads a JSON config file over DefaultConfig. Unknown fields are an error so typos are caught.
func LoadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("open config: %w", err)
	}
	defer f.Close()
	return ParseConfig(f, path)
}

// ParseConfig decodes a JSON config from r over DefaultConfig; name is used in errors.
func ParseConfig(r io.Reader, name string) (Config, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxConfigBytes+1))
	if err != nil {
		return Config{}, fmt.Errorf("read config %s: %w", name, err)
	}
	if len(b) > maxConfigBytes {
		return Config{}, fmt.Errorf("%w: %s is larger than %d bytes", ErrConfig, name, maxConfigBytes)
	}
	c := DefaultConfig()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("%w: %s: %w", ErrConfig, name, err)
	}
	return c, nil
}

// Validate checks every field and names the first wrong one.
func (c *Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, args...))
	}
	if c.DataDir == "" {
		return bad("data_dir", "required")
	}
	if len(c.ListenAddrs) == 0 {
		return bad("listen_addrs", "at least one address is required")
	}
	for _, a := range c.ListenAddrs {
		if !strings.HasPrefix(a, "/") {
			return bad("listen_addrs", "%q is not a multiaddr", a)
		}
	}
	for _, a := range c.Bootstrap {
		if !strings.HasPrefix(a, "/") || !strings.Contains(a, "/p2p/") {
			return bad("bootstrap", "%q must be a multiaddr ending in /p2p/PEER_ID", a)
		}
	}
	for _, p := range c.Allowlist {
		if strings.TrimSpace(p) == "" {
			return bad("allowlist", "empty peer id")
		}
	}
	if !c.Role.Valid() {
		return bad("role", "%q is not one of edge, anchor-capable, anchor", c.Role)
	}
	for _, m := range c.Modalities {
		if m == "" || strings.ContainsAny(m, ", \t\n") {
			return bad("modalities", "%q is not a modality name", m)
		}
	}
	if c.Partition < 0 {
		return bad("partition", "must be >= 0, got %d", c.Partition)
	}
	if err := checkLoopback(c.APIAddr); err != nil {
		return bad("api_addr", "%v", err)
	}
	if !wire.ValidRunID(c.RunID) {
		return bad("run_id", "%q: want 1..%d characters of [A-Za-z0-9._-]", c.RunID, wire.MaxRunID)
	}
	if c.Heartbeat.D() < 10*time.Millisecond {
		return bad("heartbeat", "must be at least 10ms, got %s", c.Heartbeat.D())
	}
	if c.Lease.D() <= 2*c.Heartbeat.D() {
		return bad("lease", "must exceed two heartbeats (%s), got %s", 2*c.Heartbeat.D(), c.Lease.D())
	}
	if c.Backoff.D() < 0 {
		return bad("backoff", "must be >= 0")
	}
	if c.Quorum < 1 {
		return bad("quorum", "must be >= 1, got %d", c.Quorum)
	}
	if c.RoundDeadline.D() < c.Heartbeat.D() {
		return bad("round_deadline", "must be at least one heartbeat (%s), got %s", c.Heartbeat.D(), c.RoundDeadline.D())
	}
	if c.MinRoundInterval.D() < 0 {
		return bad("min_round_interval", "must be >= 0, got %s", c.MinRoundInterval.D())
	}
	if r := c.BlobRetention.D(); r != 0 && r < 2*c.RoundDeadline.D() {
		return bad("blob_retention", "must be 0 (default) or at least 2 round deadlines (%s), got %s", 2*c.RoundDeadline.D(), r)
	}
	if c.LearnerCheckpointEvery < 0 {
		return bad("learner_checkpoint_every", "must be >= 0 rounds (0: never), got %d", c.LearnerCheckpointEvery)
	}
	if c.ParamDim < 1 || c.ParamDim > maxParamDim {
		return bad("param_dim", "must be 1..%d, got %d", maxParamDim, c.ParamDim)
	}
	return c.validateTraining(bad)
}

// learnerDue reports whether the learner is checkpointed after the trained-th local round since start.
func (c *Config) learnerDue(trained uint64) bool {
	return c.LearnerCheckpointEvery > 0 && trained > 0 && trained%uint64(c.LearnerCheckpointEvery) == 0
}

// maxBatch bounds batch: the model allocates activations for it up front.
const maxBatch = 1024

// validateTraining checks the ML-ECS fields. They are checked even without a dataset (the defaults
// are valid), so a typo is caught before the node is pointed at data.
func (c *Config) validateTraining(bad func(field, format string, args ...any) error) error {
	if c.Dataset != "" && c.Base == "" {
		return bad("base", "required with dataset: a pretrained base directory (mlecs pretrain) shared by every node")
	}
	if c.Dataset == "" && c.Base != "" {
		return bad("dataset", "required with base: the node's mlecs-dataset/1 directory")
	}
	if c.Preset != "tiny" && c.Preset != "small" {
		return bad("preset", "%q is not one of tiny, small", c.Preset)
	}
	st, err := federated.ParseStrategy(c.Method)
	if err != nil {
		return bad("method", "%v", err)
	}
	if comp, err := federated.ComponentsOf(st); err != nil || !comp.Communicate {
		return bad("method", "%q does not communicate: a node trains a method whose edges and anchor exchange payloads", c.Method)
	}
	if c.Steps < 0 || c.PublicSteps < 0 || c.Steps+c.PublicSteps == 0 {
		return bad("steps", "steps %d and public_steps %d must be >= 0 and not both 0", c.Steps, c.PublicSteps)
	}
	if c.AnchorSteps < 0 {
		return bad("anchor_steps", "must be >= 0, got %d", c.AnchorSteps)
	}
	if c.Batch < 1 || c.Batch > maxBatch {
		return bad("batch", "must be 1..%d, got %d", maxBatch, c.Batch)
	}
	if !(c.LR > 0 && c.LR < 1) {
		return bad("lr", "must be in (0, 1), got %v", c.LR)
	}
	if !(c.PublicFraction > 0 && c.PublicFraction < 1) {
		return bad("public_fraction", "must be in (0, 1), got %v", c.PublicFraction)
	}
	if _, err := payload.ParseCodec(c.Codec); err != nil {
		return bad("codec", "%v", err)
	}
	if c.Threads < 0 {
		return bad("threads", "must be >= 0, got %d", c.Threads)
	}
	return nil
}

// checkLoopback refuses any control API address that is not on a loopback interface:
// the API is unauthenticated, so it must never be reachable from the network.
func checkLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: %w", addr, err)
	}
	if port == "" {
		return fmt.Errorf("%q: missing port", addr)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address (use 127.0.0.1 or [::1])", addr)
	}
	return nil
}

// WriteConfig writes c as indented JSON to path with mode 0600.
func WriteConfig(path string, c Config) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}
