package node

import (
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestCgroupMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name, file, content string
		want                int64
		err                 string
	}{
		{name: "v2 limit", file: "memory.max", content: "268435456\n", want: 256 << 20},
		{name: "v2 unlimited", file: "memory.max", content: "max\n"},
		{name: "v1 limit", file: "memory/memory.limit_in_bytes", content: "536870912\n", want: 512 << 20},
		{name: "v1 unlimited", file: "memory/memory.limit_in_bytes", content: "9223372036854771712\n"},
		{name: "no memory controller"},
		{name: "garbage", file: "memory.max", content: "lots\n", err: `"lots" is not a positive byte count`},
		{name: "negative", file: "memory/memory.limit_in_bytes", content: "-1", err: `"-1" is not a positive byte count`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if tc.file != "" {
				p := filepath.Join(root, tc.file)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := cgroupMemoryLimit(root)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), tc.file) {
					t.Fatalf("err %v, want one naming %s and containing %q", err, tc.file, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func TestApplyMemoryLimit(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "memory.max"), []byte("268435456\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	log := slog.New(slog.DiscardHandler)

	t.Setenv("GOMEMLIMIT", "")
	if got := applyMemoryLimit(log, root); got != 214748364 || debug.SetMemoryLimit(-1) != got {
		t.Fatalf("soft limit %d (runtime %d), want 80%% of 256 MiB = 214748364", got, debug.SetMemoryLimit(-1))
	}
	debug.SetMemoryLimit(prev)
	t.Setenv("GOMEMLIMIT", "100MiB") // the user's own setting wins
	if got := applyMemoryLimit(log, root); got != 0 || debug.SetMemoryLimit(-1) != prev {
		t.Fatalf("with GOMEMLIMIT set: applied %d, runtime limit %d; want it left at %d", got, debug.SetMemoryLimit(-1), prev)
	}
}
