package keygen

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mlecs/mlecs/node"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := NewCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "node.key")
	psk := filepath.Join(dir, "net.psk")
	tests := []struct {
		name    string
		args    []string
		wantErr error
		check   func(t *testing.T, out string)
	}{
		{"no flags", nil, ErrUsage, nil},
		{"same file", []string{"--out", key, "--psk", key}, ErrUsage, nil},
		{"key", []string{"--out", key}, nil, func(t *testing.T, out string) {
			id, err := peer.Decode(strings.TrimSpace(out))
			if err != nil {
				t.Fatalf("output %q is not a peer id: %v", out, err)
			}
			k, err := node.LoadKey(key)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := peer.IDFromPrivateKey(k); got != id {
				t.Fatalf("printed id %s, key's id %s", id, got)
			}
			st, _ := os.Stat(key)
			if st.Mode().Perm() != 0o600 {
				t.Fatalf("key mode %v, want 0600", st.Mode().Perm())
			}
		}},
		{"refuses overwrite", []string{"--out", key}, node.ErrExists, nil},
		{"psk", []string{"--psk", psk}, nil, func(t *testing.T, _ string) {
			b, err := node.LoadPSK(psk)
			if err != nil || len(b) != 32 {
				t.Fatalf("psk: %d bytes, %v", len(b), err)
			}
			st, _ := os.Stat(psk)
			if st.Mode().Perm() != 0o600 {
				t.Fatalf("psk mode %v, want 0600", st.Mode().Perm())
			}
		}},
		{"psk refuses overwrite", []string{"--psk", psk}, node.ErrExists, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(t, tc.args...)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, out)
		})
	}
}
