package node

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mlecs/mlecs/node"
)

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "c.json")
	if err := os.WriteFile(cfgPath, []byte(`{"data_dir": "/tmp/x", "role": "anchor-capable", "heartbeat": "100ms",
		"lease": "1s", "quorum": 3}`), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"data_dir": "/tmp/x", "rol": "edge"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		wantErr error
		check   func(t *testing.T, c node.Config)
	}{
		{"file only", []string{"--config", cfgPath}, nil, func(t *testing.T, c node.Config) {
			if c.Role != node.RoleAnchorCapable || c.Heartbeat.D() != 100*time.Millisecond || c.Quorum != 3 {
				t.Fatalf("file not applied: %+v", c)
			}
		}},
		{"flags override file", []string{"--config", cfgPath, "--role", "edge", "--quorum", "2", "--api", "127.0.0.1:0"}, nil,
			func(t *testing.T, c node.Config) {
				if c.Role != node.RoleEdge || c.Quorum != 2 || c.APIAddr != "127.0.0.1:0" || c.DataDir != "/tmp/x" {
					t.Fatalf("flags not applied: %+v", c)
				}
			}},
		{"flags only", []string{"--data-dir", dir, "--modalities", "image,audio"}, nil, func(t *testing.T, c node.Config) {
			if c.DataDir != dir || len(c.Modalities) != 2 {
				t.Fatalf("flags not applied: %+v", c)
			}
		}},
		{"unknown field in file", []string{"--config", bad}, node.ErrConfig, nil},
		{"non-loopback api refused", []string{"--data-dir", dir, "--api", "0.0.0.0:7700"}, node.ErrConfig, nil},
		{"bad role", []string{"--data-dir", dir, "--role", "boss"}, node.ErrConfig, nil},
		{"missing data dir", nil, node.ErrConfig, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var o options
			cmd := newStartCmd(&o)
			if err := cmd.Flags().Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			c, err := o.resolve(cmd.Flags())
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}
