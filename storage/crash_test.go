package storage

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crashDirEnv tells the re-executed test binary to act as the crashing writer;
// crashPointEnv, if set, makes it SIGKILL itself at that point of its third round.
const (
	crashDirEnv   = "MLECS_STORAGE_CRASH_DIR"
	crashPointEnv = "MLECS_STORAGE_CRASH_POINT"
)

// Self-kill points: after the first of two commit batches of a checkpoint or a blob
// (chunks committed, manifest not), and just before a checkpoint manifest commit.
var crashPoints = []string{"checkpoint-batch", "blob-batch", "manifest"}

// crashCheckpoint is what the writer saves at round r: large enough (about 5 MiB, two
// commit batches) that a kill often lands in the middle of a save.
func crashCheckpoint(r uint64) *Checkpoint {
	return testCheckpoint("edge", 1, r, r, 1000, 1_300_000)
}

// crashBlobSize spans two commit batches.
func crashBlobSize(r uint64) int64 { return batchBytes + chunkSize + int64(r)*4099 }

// TestCrashChild is the writer process of TestCrashSafety; it does nothing when run
// directly. It saves checkpoints and blobs in a loop, printing each one after it is
// committed, until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashSafety")
	}
	s, err := Open(dir, WithLogger(slog.New(slog.NewTextHandler(os.Stderr, nil))))
	if err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(2)
	}
	ctx := t.Context()
	r := uint64(1)
	if cp, err := s.LatestCheckpoint(ctx, "edge"); err == nil {
		r = cp.Round + 1
	}
	first := r
	for ; ; r++ {
		if point := os.Getenv(crashPointEnv); point != "" && r == first+2 {
			s.fault = func(op string, batch int) error {
				hit := point == "checkpoint-batch" && strings.HasPrefix(op, "checkpoint edge") && batch == 1 ||
					point == "blob-batch" && op == "blob" && batch == 1 ||
					point == "manifest" && op == "checkpoint manifest"
				if hit {
					syscall.Kill(os.Getpid(), syscall.SIGKILL)
					time.Sleep(time.Minute) // the signal is asynchronous; never return
				}
				return nil
			}
		}
		if err := s.SaveCheckpoint(ctx, crashCheckpoint(r)); err != nil {
			fmt.Printf("error %v\n", err)
			os.Exit(2)
		}
		fmt.Printf("checkpoint %d\n", r)
		h, err := s.PutBlob(ctx, newGen(r, crashBlobSize(r)), crashBlobSize(r))
		if err != nil {
			fmt.Printf("error %v\n", err)
			os.Exit(2)
		}
		fmt.Printf("blob %d %s\n", r, h)
		if r%3 == 0 {
			if _, err := s.Prune(ctx, "edge", 2); err != nil {
				fmt.Printf("error %v\n", err)
				os.Exit(2)
			}
		}
	}
}

// TestCrashSafety kills a writer process with SIGKILL at random points, then reopens the
// store and checks that everything visible is intact and nothing committed was lost.
func TestCrashSafety(t *testing.T) {
	if os.Getenv(crashDirEnv) != "" {
		t.Skip("running as the crash child")
	}
	dir := t.TempDir()
	// Cycle 0 and 4: we kill the writer at a random time; cycles 1-3: it kills itself at
	// each of crashPoints in turn.
	cycles := 5
	if testing.Short() {
		cycles = 2
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	committed := map[uint64]Hash{} // blobs the writer reported, over all cycles
	var lastCkpt uint64
	for c := range cycles {
		point, wait := "", 2+rng.IntN(3)
		if c >= 1 && c <= len(crashPoints) {
			point, wait = crashPoints[c-1], 1<<30
		}
		delay := time.Duration(rng.IntN(40)) * time.Millisecond
		ckpt, blobs := runAndKill(t, dir, point, wait, delay)
		for r, h := range blobs {
			committed[r] = h
		}
		if ckpt > lastCkpt {
			lastCkpt = ckpt
		}
		t.Logf("cycle %d: killed after checkpoint %d (point %q, delay %v), %d blobs so far", c, ckpt, point, delay, len(committed))
		st := verifyAfterCrash(t, dir, lastCkpt, committed)
		if strings.HasSuffix(point, "-batch") && st.OrphanBlobUploads+st.OrphanCheckpointSaves == 0 {
			t.Fatalf("killed after a committed batch at %q, but GC found no staged chunks to remove", point)
		}
	}
}

// runAndKill starts the writer, waits until it reports `wait` more checkpoints, sleeps
// delay, and SIGKILLs it. It returns the last reported checkpoint round and blobs.
func runAndKill(t *testing.T, dir, point string, wait int, delay time.Duration) (uint64, map[uint64]Hash) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1", "-test.timeout=120s")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashPointEnv+"="+point)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var (
		last  uint64
		seen  int
		blobs = map[uint64]Hash{}
	)
	deadline := time.After(60 * time.Second)
	killed := false
	var killAt <-chan time.Time
	for {
		select {
		case <-deadline:
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("writer made no progress in 60s; stderr:\n%s", stderr.String())
		case <-killAt:
			cmd.Process.Signal(syscall.SIGKILL)
			killed, killAt = true, nil
		case l, ok := <-lines:
			if !ok {
				werr := cmd.Wait()
				if point != "" && werr != nil && strings.Contains(werr.Error(), "killed") {
					killed = true // killed itself
				}
				if !killed {
					t.Fatalf("writer exited on its own (%v); stderr:\n%s", werr, stderr.String())
				}
				return last, blobs
			}
			var r uint64
			var hs string
			switch {
			case strings.HasPrefix(l, "error"):
				t.Errorf("writer: %s", l)
			case sscan(l, "checkpoint %d", &r):
				last = r
				seen++
				if seen == 1 {
					checkLockedByChild(t, dir, cmd.Process.Pid)
				}
				if seen == wait && !killed {
					killAt = time.After(delay)
				}
			case sscan(l, "blob %d %s", &r, &hs):
				h, err := ParseHash(hs)
				if err != nil {
					t.Fatal(err)
				}
				blobs[r] = h
			}
		}
	}
}

func sscan(s, format string, args ...any) bool {
	n, err := fmt.Sscanf(s, format, args...)
	return err == nil && n == len(args)
}

// verifyAfterCrash reopens the store: every listed checkpoint loads and holds exactly what
// the writer saved for its round; the newest reported one is there; every reported blob
// reads back with its hash and content; GC then leaves no orphans.
func verifyAfterCrash(t *testing.T, dir string, lastCkpt uint64, blobs map[uint64]Hash) GCStats {
	t.Helper()
	s, err := Open(dir, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	defer s.Close()
	ctx := t.Context()
	list, err := s.ListCheckpoints(ctx, "edge")
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range list {
		if info.Problem != "" {
			t.Fatalf("checkpoint round %d: %s", info.Round, info.Problem)
		}
		cp, err := s.LoadCheckpoint(ctx, "edge", info.Term, info.Round)
		if err != nil {
			t.Fatalf("visible checkpoint round %d does not load: %v", info.Round, err)
		}
		equalCheckpoints(t, cp, crashCheckpoint(info.Round))
	}
	latest, err := s.LatestCheckpoint(ctx, "edge")
	if err != nil {
		t.Fatal(err)
	}
	if latest.Round < lastCkpt {
		t.Fatalf("latest checkpoint is round %d, but round %d was reported committed", latest.Round, lastCkpt)
	}
	for r, h := range blobs {
		br, err := s.OpenBlob(ctx, h)
		if err != nil {
			t.Fatalf("committed blob %d lost: %v", r, err)
		}
		got, want := sha256.New(), sha256.New()
		if _, err := io.Copy(got, br); err != nil {
			t.Fatalf("blob %d: %v", r, err)
		}
		io.Copy(want, newGen(r, crashBlobSize(r)))
		if !bytes.Equal(got.Sum(nil), want.Sum(nil)) || br.Size() != crashBlobSize(r) {
			t.Fatalf("blob %d content differs", r)
		}
	}
	all, err := s.ListBlobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range all {
		if _, err := s.ReadBlob(ctx, b.Hash); err != nil {
			t.Fatalf("visible blob %s: %v", b.Hash, err)
		}
	}
	st, err := s.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("reopened: %d checkpoints, %d blobs, latest round %d; GC %+v", len(list), len(all), latest.Round, st)
	bl, saves, err := s.scanChunkGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	refB, refS, err := s.referencedIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(bl) != len(refB) || len(saves) != len(refS) {
		t.Fatalf("after GC: %d blob uploads for %d manifests, %d checkpoint saves for %d manifests",
			len(bl), len(refB), len(saves), len(refS))
	}
	return st
}

// checkLockedByChild: while the writer runs, opening its dir fails with ErrLocked naming
// the dir and the writer's pid.
func checkLockedByChild(t *testing.T, dir string, pid int) {
	t.Helper()
	s, err := Open(dir, WithLogger(slog.New(slog.DiscardHandler)))
	if err == nil {
		s.Close()
		t.Fatal("opened a dir held by the writer process")
	}
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", pid)) {
		t.Fatalf("open of a dir held by pid %d: %v; want ErrLocked naming the dir and pid", pid, err)
	}
}
