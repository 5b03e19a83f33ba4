package node

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.DataDir = "/tmp/x"
	tests := []struct {
		name  string
		edit  func(c *Config)
		field string // "" = valid
	}{
		{"defaults with data dir", func(*Config) {}, ""},
		{"ipv6 loopback api", func(c *Config) { c.APIAddr = "[::1]:7700" }, ""},
		{"localhost api", func(c *Config) { c.APIAddr = "localhost:0" }, ""},
		{"missing data dir", func(c *Config) { c.DataDir = "" }, "data_dir"},
		{"no listen", func(c *Config) { c.ListenAddrs = nil }, "listen_addrs"},
		{"bad listen", func(c *Config) { c.ListenAddrs = []string{"127.0.0.1:4001"} }, "listen_addrs"},
		{"bootstrap without peer id", func(c *Config) { c.Bootstrap = []string{"/ip4/127.0.0.1/tcp/1"} }, "bootstrap"},
		{"empty allowlist entry", func(c *Config) { c.Allowlist = []string{" "} }, "allowlist"},
		{"bad role", func(c *Config) { c.Role = "leader" }, "role"},
		{"bad modality", func(c *Config) { c.Modalities = []string{"a,b"} }, "modalities"},
		{"negative partition", func(c *Config) { c.Partition = -1 }, "partition"},
		{"public api", func(c *Config) { c.APIAddr = "0.0.0.0:7700" }, "api_addr"},
		{"lan api", func(c *Config) { c.APIAddr = "192.168.1.2:7700" }, "api_addr"},
		{"api without port", func(c *Config) { c.APIAddr = "127.0.0.1" }, "api_addr"},
		{"bad run id", func(c *Config) { c.RunID = "a/b" }, "run_id"},
		{"tiny heartbeat", func(c *Config) { c.Heartbeat = Duration(time.Millisecond) }, "heartbeat"},
		{"lease too short", func(c *Config) { c.Lease = Duration(2 * c.Heartbeat.D()) }, "lease"},
		{"negative backoff", func(c *Config) { c.Backoff = Duration(-1) }, "backoff"},
		{"zero quorum", func(c *Config) { c.Quorum = 0 }, "quorum"},
		{"deadline under a heartbeat", func(c *Config) { c.RoundDeadline = Duration(time.Millisecond) }, "round_deadline"},
		{"no round interval", func(c *Config) { c.MinRoundInterval = 0 }, ""},
		{"negative round interval", func(c *Config) { c.MinRoundInterval = Duration(-time.Second) }, "min_round_interval"},
		{"blob retention under two deadlines", func(c *Config) { c.BlobRetention = Duration(c.RoundDeadline.D()) }, "blob_retention"},
		{"learner checkpoints off", func(c *Config) { c.LearnerCheckpointEvery = 0 }, ""},
		{"negative learner checkpoint interval", func(c *Config) { c.LearnerCheckpointEvery = -1 }, "learner_checkpoint_every"},
		{"huge param dim", func(c *Config) { c.ParamDim = maxParamDim + 1 }, "param_dim"},
		// ML-ECS training fields.
		{"dataset and base", func(c *Config) { c.Dataset, c.Base = "/data", "/base" }, ""},
		{"dataset without base", func(c *Config) { c.Dataset = "/data" }, "base"},
		{"base without dataset", func(c *Config) { c.Base = "/base" }, "dataset"},
		{"bad preset", func(c *Config) { c.Preset = "huge" }, "preset"},
		{"unknown method", func(c *Config) { c.Method = "fedmagic" }, "method"},
		{"local method", func(c *Config) { c.Method = "local" }, "method"},
		{"fedavg method", func(c *Config) { c.Method = "fedavg" }, ""},
		{"no steps at all", func(c *Config) { c.Steps, c.PublicSteps = 0, 0 }, "steps"},
		{"only public steps", func(c *Config) { c.Steps = 0 }, ""},
		{"negative steps", func(c *Config) { c.Steps = -1 }, "steps"},
		{"negative anchor steps", func(c *Config) { c.AnchorSteps = -1 }, "anchor_steps"},
		{"zero batch", func(c *Config) { c.Batch = 0 }, "batch"},
		{"huge batch", func(c *Config) { c.Batch = maxBatch + 1 }, "batch"},
		{"zero lr", func(c *Config) { c.LR = 0 }, "lr"},
		{"lr 1", func(c *Config) { c.LR = 1 }, "lr"},
		{"public fraction 0", func(c *Config) { c.PublicFraction = 0 }, "public_fraction"},
		{"public fraction 1", func(c *Config) { c.PublicFraction = 1 }, "public_fraction"},
		{"bad codec", func(c *Config) { c.Codec = "fp8" }, "codec"},
		{"int8 codec", func(c *Config) { c.Codec = "int8" }, ""},
		{"negative threads", func(c *Config) { c.Threads = -1 }, "threads"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.field+":") {
				t.Fatalf("err %v, want ErrConfig naming %q", err, tc.field)
			}
		})
	}
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig(strings.NewReader(`{"data_dir": "d", "heartbeat": "150ms", "role": "anchor", "modalities": ["image"]}`), "c.json")
	if err != nil {
		t.Fatal(err)
	}
	if c.Heartbeat.D() != 150*time.Millisecond || c.Role != RoleAnchor || c.Lease != DefaultConfig().Lease {
		t.Fatalf("parsed %+v", c)
	}
	if c.MinRoundInterval.D() != time.Second {
		t.Fatalf("default min_round_interval %v, want 1s", c.MinRoundInterval.D())
	}
	c, err = ParseConfig(strings.NewReader(`{"data_dir": "d", "min_round_interval": "0s"}`), "c.json")
	if err != nil || c.MinRoundInterval != 0 {
		t.Fatalf("min_round_interval 0s: %v, %v", c.MinRoundInterval.D(), err)
	}
	for name, in := range map[string]string{
		"unknown field": `{"data_dir": "d", "leese": "1s"}`,
		"bad duration":  `{"heartbeat": "soon"}`,
		"number as dur": `{"heartbeat": 5}`,
		"not json":      `data_dir = d`,
		"oversized":     `{"run_id": "` + strings.Repeat("x", maxConfigBytes) + `"}`,
	} {
		if _, err := ParseConfig(strings.NewReader(in), name); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err %v, want ErrConfig", name, err)
		}
	}
}

func TestLearnerDue(t *testing.T) {
	c := DefaultConfig()
	for _, tc := range []struct {
		every   int
		trained uint64
		saved   bool
	}{{5, 5, true}, {5, 10, true}, {5, 4, false}, {5, 6, false}, {1, 1, true}, {1, 7, true}, {5, 0, false}, {0, 5, false}} {
		c.LearnerCheckpointEvery = tc.every
		if got := c.learnerDue(tc.trained); got != tc.saved {
			t.Errorf("every %d rounds, after %d trained: saved %v, want %v", tc.every, tc.trained, got, tc.saved)
		}
	}
}

func TestConfigRoundTrip(t *testing.T) {
	c := DefaultConfig()
	c.DataDir, c.Modalities, c.Heartbeat = "d", []string{"audio"}, Duration(123*time.Millisecond)
	p := filepath.Join(t.TempDir(), "c.json")
	if err := WriteConfig(p, c); err != nil {
		t.Fatal(err)
	}
	back, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if back.Heartbeat != c.Heartbeat || back.DataDir != "d" || back.Modalities[0] != "audio" {
		t.Fatalf("round trip: %+v", back)
	}
}
