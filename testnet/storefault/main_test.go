package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUsageAndFree(t *testing.T) {
	var out bytes.Buffer
	for _, args := range [][]string{nil, {"fill"}, {"explode", "x"}, {"damage-checkpoint", "x"}} {
		if err := run(args, &out); !errors.Is(err, errUsage) {
			t.Errorf("%q: %v, want usage", args, err)
		}
	}
	dir := t.TempDir()
	if err := run([]string{"free", dir}, &out); err == nil {
		t.Fatal("free without a filler succeeded")
	}
	if err := os.WriteFile(filepath.Join(dir, fillName), make([]byte, 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run([]string{"free", dir}, &out); err != nil || !strings.Contains(out.String(), "freed 1000 bytes") {
		t.Fatalf("free: %v %q", err, out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, fillName)); !os.IsNotExist(err) {
		t.Fatalf("filler still there: %v", err)
	}
	if err := run([]string{"damage-checkpoint", dir, "global"}, &out); err == nil {
		t.Fatal("damaged a directory without a store")
	}
}
