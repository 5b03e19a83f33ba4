package storage

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func openFiles(t testing.TB, dir string, opts ...Option) *FileCheckpoints {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	opts = append([]Option{WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	c, err := OpenFileCheckpoints(dir, "learner", opts...)
	if err != nil {
		t.Fatalf("OpenFileCheckpoints(%s): %v", dir, err)
	}
	return c
}

// saveFiles saves testCheckpoint("learner", term, round, round, 100, 3) for each (term, round).
func saveFiles(t testing.TB, c *FileCheckpoints, ids ...[2]uint64) {
	t.Helper()
	for _, id := range ids {
		if err := c.Save(context.Background(), testCheckpoint("learner", id[0], id[1], id[1], 100, 3)); err != nil {
			t.Fatalf("save term %d round %d: %v", id[0], id[1], err)
		}
	}
}

func listed(t testing.TB, c *FileCheckpoints) string {
	t.Helper()
	infos, err := c.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, i := range infos {
		s = append(s, fmt.Sprintf("%d/%d", i.Term, i.Round))
	}
	return strings.Join(s, " ")
}

// dirNames lists the names in dir.
func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestFileCheckpointRoundTrip(t *testing.T) {
	c := openFiles(t, "")
	ctx := t.Context()
	cp := testCheckpoint("learner", 3, 14, 1, 5, 700_000, 1)
	cp.Tensors = append(cp.Tensors,
		NamedTensor{Name: "scalar", Shape: []int{}, Data: []float32{2.5}},
		NamedTensor{Name: "empty", Shape: []int{0, 4}, Data: []float32{}},
		NamedTensor{Name: "lora.A", Shape: []int{3, 2, 2}, Data: []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}})
	if err := c.Save(ctx, cp); err != nil {
		t.Fatal(err)
	}
	got, err := c.Load(ctx, 3, 14)
	if err != nil {
		t.Fatal(err)
	}
	equalCheckpoints(t, got, cp)
	if got.Created.IsZero() {
		t.Fatal("Created not set")
	}
	infos, err := c.List(ctx)
	if err != nil || len(infos) != 1 || infos[0].Path != filepath.Join(c.dir, "00000000000000000003-00000000000000000014.ckpt") {
		t.Fatalf("list: %+v, %v", infos, err)
	}
	if _, err := c.Load(ctx, 3, 15); !errors.Is(err, ErrNotFound) {
		t.Fatalf("absent round: %v, want ErrNotFound", err)
	}

	// Saving the same (term, round) again replaces the file; Created, meta-less and tensor-less work.
	when := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	again := &Checkpoint{Kind: "learner", Term: 3, Round: 14, Created: when}
	if err := c.Save(ctx, again); err != nil {
		t.Fatal(err)
	}
	got, err = c.Load(ctx, 3, 14)
	if err != nil {
		t.Fatal(err)
	}
	equalCheckpoints(t, got, again)
	if !got.Created.Equal(when) {
		t.Fatalf("created %v, want %v", got.Created, when)
	}
	if names := dirNames(t, c.dir); len(names) != 1 {
		t.Fatalf("directory after a replace: %v", names)
	}

	for name, bad := range map[string]*Checkpoint{
		"nil":        nil,
		"other kind": testCheckpoint("global", 1, 1, 1, 4),
		"bad tensor": {Kind: "learner", Tensors: []NamedTensor{{Name: "w", Shape: []int{2}, Data: []float32{1}}}},
	} {
		if err := c.Save(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("save %s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := OpenFileCheckpoints(t.TempDir(), "Bad Kind"); !errors.Is(err, ErrInvalid) {
		t.Errorf("open with a bad kind: %v, want ErrInvalid", err)
	}
	if _, err := OpenFileCheckpoints("", "learner"); !errors.Is(err, ErrInvalid) {
		t.Errorf("open without a dir: %v, want ErrInvalid", err)
	}
}

// Files are ordered by (term, round) numerically, across terms, whatever order they were saved in.
func TestFileCheckpointOrderAcrossTerms(t *testing.T) {
	c := openFiles(t, "")
	saveFiles(t, c, [2]uint64{1, 9}, [2]uint64{10, 0}, [2]uint64{2, 1}, [2]uint64{1, 300}, [2]uint64{2, 0})
	if got := listed(t, c); got != "1/9 1/300 2/0 2/1 10/0" {
		t.Fatalf("list order %s", got)
	}
}

// A damaged newest file is refused with an error naming the file and what is wrong, while the older
// file still loads; Verify reports it.
func TestFileCheckpointDamage(t *testing.T) {
	tests := []struct {
		name   string
		damage func([]byte) []byte
		want   string
	}{
		{"flipped byte", func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b }, "checksum mismatch"},
		{"flipped checksum", func(b []byte) []byte { b[len(b)-1] ^= 0x01; return b }, "checksum mismatch"},
		{"truncated", func(b []byte) []byte { return b[:len(b)*2/3] }, "truncated"},
		{"truncated to a few bytes", func(b []byte) []byte { return b[:10] }, "truncated"},
		{"empty", func(b []byte) []byte { return b[:0] }, "truncated"},
		{"bad magic", func(b []byte) []byte { b[0] = 'X'; return b }, "magic"},
		{"unknown version", func(b []byte) []byte { b[4] = 9; return b }, "unsupported version 9"},
		{"trailing bytes", func(b []byte) []byte { return append(b, 1, 2, 3) }, "after its declared end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			c := openFiles(t, "")
			saveFiles(t, c, [2]uint64{1, 1}, [2]uint64{1, 2})
			path := filepath.Join(c.dir, ckptFileName(1, 2))
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.damage(b), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err = c.Load(ctx, 1, 2)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("load damaged file: %v; want ErrCorrupt naming %s and %q", err, path, tc.want)
			}
			t.Logf("%v", err)
			if err := verifyFile(path); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("verifyFile: %v; want ErrCorrupt with %q", err, tc.want)
			}
			old, err := c.Load(ctx, 1, 1)
			if err != nil {
				t.Fatalf("older file next to a damaged one: %v", err)
			}
			equalCheckpoints(t, old, testCheckpoint("learner", 1, 1, 1, 100, 3))
			checks, err := c.Verify(ctx)
			if err != nil || len(checks) != 2 || checks[0].Err != nil || checks[1].Err == nil || checks[1].Round != 2 {
				t.Fatalf("verify: %+v, %v; want round 1 intact, round 2 damaged", checks, err)
			}
			if checks[0].Tensors != 2 || checks[0].Bytes == 0 || checks[0].Meta["seed"] == "" || checks[0].Created.IsZero() {
				t.Fatalf("verified info %+v", checks[0].CheckpointInfo)
			}
		})
	}
}

// A file whose content names another (term, round) than its name, e.g. copied or renamed by hand, is
// refused.
func TestFileCheckpointNameMismatch(t *testing.T) {
	c := openFiles(t, "")
	saveFiles(t, c, [2]uint64{1, 1})
	if err := os.Rename(filepath.Join(c.dir, ckptFileName(1, 1)), filepath.Join(c.dir, ckptFileName(1, 7))); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Load(t.Context(), 1, 7); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "its name says") {
		t.Fatalf("load of a renamed file: %v", err)
	}
}

// A temporary file left by a crash is removed (and logged) on open; other files are left alone.
func TestFileCheckpointTempRemovedOnOpen(t *testing.T) {
	dir := t.TempDir()
	c := openFiles(t, dir)
	saveFiles(t, c, [2]uint64{1, 1}, [2]uint64{1, 2})
	b, err := os.ReadFile(filepath.Join(dir, ckptFileName(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, ckptFileName(1, 2))); err != nil {
		t.Fatal(err)
	}
	// What a kill in the middle of saving round 2 leaves: half a file under a temporary name.
	if err := os.WriteFile(filepath.Join(dir, ckptFileTemp+"123456"), b[:len(b)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs logSink
	c = openFiles(t, dir, WithLogger(logs.logger()))
	if names := strings.Join(dirNames(t, dir), " "); names != ckptFileName(1, 1)+" notes.txt" {
		t.Fatalf("directory after reopening: %s", names)
	}
	for _, want := range []string{"removed a partial checkpoint file left by a crash", ckptFileTemp + "123456", "notes.txt"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("open log lacks %q:\n%s", want, logs.String())
		}
	}
	if got := listed(t, c); got != "1/1" {
		t.Fatalf("list %s, want 1/1", got)
	}
	if _, err := c.Load(t.Context(), 1, 1); err != nil {
		t.Fatal(err)
	}
}

func TestFileCheckpointPrune(t *testing.T) {
	ctx := t.Context()
	c := openFiles(t, "")
	saveFiles(t, c, [2]uint64{1, 5}, [2]uint64{1, 6}, [2]uint64{2, 1}, [2]uint64{2, 2}, [2]uint64{2, 3}, [2]uint64{3, 0})
	if _, err := c.Prune(ctx, 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("keep 0: %v, want ErrInvalid", err)
	}
	n, err := c.Prune(ctx, 3)
	if err != nil || n != 3 {
		t.Fatalf("prune to 3 of 6: %d, %v", n, err)
	}
	if got := listed(t, c); got != "2/2 2/3 3/0" {
		t.Fatalf("after prune: %s", got)
	}
	if n, err := c.Prune(ctx, 3); err != nil || n != 0 {
		t.Fatalf("second prune: %d, %v", n, err)
	}

	// With the newest files damaged, the newest intact one survives pruning, older than it is.
	if err := os.Truncate(filepath.Join(c.dir, ckptFileName(2, 3)), 50); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.dir, ckptFileName(3, 0)), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Prune(ctx, 1); err != nil || n != 1 {
		t.Fatalf("prune with damaged files: %d, %v", n, err)
	}
	if got := listed(t, c); got != "2/2 3/0" {
		t.Fatalf("after pruning damaged files: %s, want the intact 2/2 kept", got)
	}
	saveFiles(t, c, [2]uint64{3, 1})
	if err := os.WriteFile(filepath.Join(c.dir, ckptFileName(3, 2)), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Prune(ctx, 1); err != nil || n != 2 {
		t.Fatalf("prune keeping the intact one: %d, %v", n, err)
	}
	if got := listed(t, c); got != "3/1 3/2" {
		t.Fatalf("prune dropped the newest intact file: %s", got)
	}
}

// A save that fails at any step, or is cancelled, leaves the files as they were and no temporary file.
func TestFileCheckpointFailedSave(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	c := openFiles(t, dir)
	saveFiles(t, c, [2]uint64{1, 1})
	before := strings.Join(dirNames(t, dir), " ")
	injected := errors.New("injected")
	for _, step := range []string{"write", "rename"} {
		c.fault = func(s string) error {
			if s == step {
				return injected
			}
			return nil
		}
		if err := c.Save(ctx, testCheckpoint("learner", 1, 2, 2, 100, 3)); !errors.Is(err, injected) {
			t.Fatalf("save failing at %s: %v", step, err)
		}
		if got := strings.Join(dirNames(t, dir), " "); got != before {
			t.Fatalf("after a save failing at %s: %s, want %s", step, got, before)
		}
	}
	c.fault = nil
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.Save(cancelled, testCheckpoint("learner", 1, 2, 2, 100, 3)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled save: %v", err)
	}
	if got := strings.Join(dirNames(t, dir), " "); got != before {
		t.Fatalf("after a cancelled save: %s, want %s", got, before)
	}
	if _, err := c.Load(ctx, 1, 1); err != nil {
		t.Fatal(err)
	}
	if err := noSpace(&fs.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}); !errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("ENOSPC maps to %v, want ErrNoSpace", err)
	}
}

// Below the free-space reserve a save fails with ErrNoSpace before writing anything.
func TestFileCheckpointNoSpace(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the free-space reserve is enforced on Linux only")
	}
	dir := t.TempDir()
	saveFiles(t, openFiles(t, dir), [2]uint64{1, 1})
	full := openFiles(t, dir, WithMinFreeSpace(1<<60))
	if err := full.Save(t.Context(), testCheckpoint("learner", 1, 2, 2, 100)); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("save on a full disk: %v, want ErrNoSpace", err)
	}
	if got := strings.Join(dirNames(t, dir), " "); got != ckptFileName(1, 1) {
		t.Fatalf("after a refused save: %s", got)
	}
	// Pruning frees space, so it is not refused.
	saveFiles(t, openFiles(t, dir), [2]uint64{1, 2})
	if n, err := full.Prune(t.Context(), 1); err != nil || n != 1 {
		t.Fatalf("prune on a full disk: %d, %v", n, err)
	}
}

// fileCrashDirEnv makes the re-executed test binary the writer of TestFileCheckpointCrash;
// fileCrashPointEnv, if set, makes it SIGKILL itself at that step of its third save.
const (
	fileCrashDirEnv   = "MLECS_FILECKPT_CRASH_DIR"
	fileCrashPointEnv = "MLECS_FILECKPT_CRASH_POINT"
)

// fileCrashCheckpoint is what the writer saves at round r: 2 MB, so a kill often lands in a save.
func fileCrashCheckpoint(r uint64) *Checkpoint {
	return testCheckpoint("learner", 1, r, r, 1000, 500_000)
}

// TestFileCheckpointCrashChild is the writer process of TestFileCheckpointCrash; it does nothing when
// run directly. It saves and prunes (keep 3) in a loop, printing each save once Save returned.
func TestFileCheckpointCrashChild(t *testing.T) {
	dir := os.Getenv(fileCrashDirEnv)
	if dir == "" {
		t.Skip("helper process for TestFileCheckpointCrash")
	}
	c, err := OpenFileCheckpoints(dir, "learner", WithLogger(slog.New(slog.NewTextHandler(os.Stderr, nil))))
	if err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(2)
	}
	ctx := t.Context()
	r := uint64(1)
	if infos, err := c.List(ctx); err == nil && len(infos) > 0 {
		r = infos[len(infos)-1].Round + 1
	}
	first := r
	for ; ; r++ {
		if point := os.Getenv(fileCrashPointEnv); point != "" && r == first+2 {
			c.fault = func(step string) error {
				if step == point {
					syscall.Kill(os.Getpid(), syscall.SIGKILL)
					time.Sleep(time.Minute) // the signal is asynchronous; never return
				}
				return nil
			}
		}
		if err := c.Save(ctx, fileCrashCheckpoint(r)); err != nil {
			fmt.Printf("error %v\n", err)
			os.Exit(2)
		}
		fmt.Printf("saved %d\n", r)
		if _, err := c.Prune(ctx, 3); err != nil {
			fmt.Printf("error %v\n", err)
			os.Exit(2)
		}
	}
}

// TestFileCheckpointCrash kills a writer process with SIGKILL at random times and at each step of a
// save, then reopens the directory: no temporary file is left, every file loads and holds what was
// saved for its round, and the newest reported save is there.
func TestFileCheckpointCrash(t *testing.T) {
	if os.Getenv(fileCrashDirEnv) != "" {
		t.Skip("running as the crash child")
	}
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL")
	}
	dir := t.TempDir()
	points := []string{"", "write", "rename", "sync-dir", ""}
	if testing.Short() {
		points = points[1:3]
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	var last uint64
	for i, point := range points {
		delay := time.Duration(rng.IntN(30)) * time.Millisecond
		if saved := runAndKillFileWriter(t, dir, point, 2+rng.IntN(3), delay); saved > last {
			last = saved
		}
		temps := 0
		for _, name := range dirNames(t, dir) {
			if strings.HasPrefix(name, ckptFileTemp) {
				temps++
			}
		}
		if (point == "write" || point == "rename") && temps != 1 {
			t.Fatalf("killed at %q: %d temporary files, want 1", point, temps)
		}
		c := openFiles(t, dir)
		infos, err := c.List(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range dirNames(t, dir) {
			if strings.HasPrefix(name, ckptFileTemp) {
				t.Fatalf("temporary file %s left after reopening", name)
			}
		}
		for _, info := range infos {
			cp, err := c.Load(t.Context(), info.Term, info.Round)
			if err != nil {
				t.Fatalf("cycle %d: visible file of round %d does not load: %v", i, info.Round, err)
			}
			equalCheckpoints(t, cp, fileCrashCheckpoint(info.Round))
		}
		if len(infos) == 0 || infos[len(infos)-1].Round < last {
			t.Fatalf("cycle %d: files %+v, but round %d was reported saved", i, infos, last)
		}
		t.Logf("cycle %d: killed (point %q, delay %v) after round %d; %d files, %d temporary removed", i, point, delay, last, len(infos), temps)
	}
}

// runAndKillFileWriter starts the writer, waits for `wait` more saves (or for it to kill itself at
// point), sleeps delay and SIGKILLs it; it returns the last round reported saved.
func runAndKillFileWriter(t *testing.T, dir, point string, wait int, delay time.Duration) uint64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFileCheckpointCrashChild$", "-test.count=1", "-test.timeout=120s")
	cmd.Env = append(os.Environ(), fileCrashDirEnv+"="+dir, fileCrashPointEnv+"="+point)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var timedOut atomic.Bool
	timer := time.AfterFunc(60*time.Second, func() { timedOut.Store(true); cmd.Process.Kill() })
	defer timer.Stop()
	var last uint64
	seen := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var r uint64
		switch l := sc.Text(); {
		case strings.HasPrefix(l, "error"):
			t.Errorf("writer: %s", l)
		case sscan(l, "saved %d", &r):
			last = r
			if seen++; seen == wait && point == "" {
				time.Sleep(delay)
				cmd.Process.Signal(syscall.SIGKILL)
			}
		}
	}
	werr := cmd.Wait()
	if timedOut.Load() {
		t.Fatalf("writer made no progress in 60s; stderr:\n%s", stderr.String())
	}
	if werr == nil || !strings.Contains(werr.Error(), "killed") {
		t.Fatalf("writer was not killed (%v); stderr:\n%s", werr, stderr.String())
	}
	return last
}
