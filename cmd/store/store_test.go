package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlecs/mlecs/node"
	"github.com/mlecs/mlecs/storage"
	"github.com/mlecs/mlecs/storage/storagetest"
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

// nodeStore makes a node-like data dir: <dir>/db with global checkpoints of rounds 0..3 naming blobs.
func nodeStore(t *testing.T) (dataDir string) {
	t.Helper()
	ctx := context.Background()
	dataDir = t.TempDir()
	s, err := storage.Open(filepath.Join(dataDir, "db"), storage.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for r := uint64(0); r <= 3; r++ {
		h, err := s.PutBlobBytes(ctx, bytes.Repeat([]byte{byte(r)}, 5000))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SaveCheckpoint(ctx, &storage.Checkpoint{Kind: "global", Term: 1, Round: r, Meta: map[string]string{"blob": h.String()}}); err != nil {
			t.Fatal(err)
		}
	}
	return dataDir
}

func TestCheck(t *testing.T) {
	dir := nodeStore(t)
	out, err := run(t, "check", dir)
	if err != nil {
		t.Fatalf("intact store: %v\n%s", err, out)
	}
	for _, want := range []string{"blobs: 4 verified (20000 bytes), 0 damaged", "resumes from: global term 1 round 3", "0 damaged"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	if _, _, err := storagetest.DamageNewestCheckpoint(filepath.Join(dir, "db"), "global"); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "check", "--json", filepath.Join(dir, "db"))
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("damaged store: err %v, want ErrDamaged\n%s", err, out)
	}
	var rep Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if rep.Damaged != 1 || len(rep.Checkpoints) != 4 || rep.Newest["global"] != (Resume{Term: 1, Round: 2}) || rep.Blobs.Verified != 4 {
		t.Fatalf("report %+v", rep)
	}
	last := rep.Checkpoints[3]
	if last.OK || last.Round != 3 || !strings.Contains(last.Error, "corrupt") {
		t.Fatalf("newest checkpoint line %+v, want damaged round 3", last)
	}
	out, err = run(t, "check", "--no-blobs", dir)
	if !errors.Is(err, ErrDamaged) || strings.Contains(out, "blobs:") || !strings.Contains(out, "DAMAGED") {
		t.Fatalf("--no-blobs: %v\n%s", err, out)
	}
}

// TestCheckLearnerFiles: the learner checkpoint files in the data dir's learner/ are verified too, found
// from the data dir and from its db/ alike; a damaged one is reported and the older one resumed from.
func TestCheckLearnerFiles(t *testing.T) {
	dir := nodeStore(t)
	fc, err := storage.OpenFileCheckpoints(node.LearnerDir(dir), node.LearnerKind, storage.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	for r := uint64(4); r <= 6; r++ {
		cp := &storage.Checkpoint{Kind: node.LearnerKind, Term: 1, Round: r, Meta: map[string]string{"rounds": "x"},
			Tensors: []storage.NamedTensor{{Name: "w", Shape: []int{10}, Data: make([]float32, 10)}}}
		if err := fc.Save(context.Background(), cp); err != nil {
			t.Fatal(err)
		}
	}
	out, err := run(t, "check", "--no-blobs", dir)
	if err != nil {
		t.Fatalf("intact learner files: %v\n%s", err, out)
	}
	for _, want := range []string{"learner checkpoint files: " + node.LearnerDir(dir), "resumes from: learner term 1 round 6",
		"resumes from: global term 1 round 3", "0 damaged"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	if _, _, err := storagetest.DamageNewestFileCheckpoint(node.LearnerDir(dir), node.LearnerKind); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "check", "--json", filepath.Join(dir, "db"))
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("damaged learner file: err %v, want ErrDamaged\n%s", err, out)
	}
	var rep Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if rep.Damaged != 1 || len(rep.Checkpoints) != 7 || rep.Newest["learner"] != (Resume{Term: 1, Round: 5}) ||
		rep.Newest["global"] != (Resume{Term: 1, Round: 3}) || rep.LearnerDir != node.LearnerDir(dir) {
		t.Fatalf("report %+v", rep)
	}
	last := rep.Checkpoints[6]
	if last.Kind != "learner" || last.OK || last.Round != 6 || !strings.Contains(last.Error, "checksum mismatch") ||
		!strings.Contains(last.Error, node.LearnerDir(dir)) {
		t.Fatalf("newest learner line %+v, want round 6 damaged, naming the file", last)
	}
	if ok := rep.Checkpoints[4]; ok.Kind != "learner" || !ok.OK || ok.Tensors != 1 || ok.Bytes != 54 || ok.Meta["rounds"] != "x" {
		t.Fatalf("intact learner line %+v", ok)
	}
}

func TestCheckUsage(t *testing.T) {
	empty := t.TempDir()
	if _, err := run(t, "check", empty); !errors.Is(err, ErrUsage) {
		t.Fatalf("dir without a store: %v, want ErrUsage", err)
	}
	if _, err := run(t, "check"); err == nil {
		t.Fatal("no DIR accepted")
	}
	// A running node holds the lock: the check refuses and says why.
	dir := nodeStore(t)
	s, err := storage.Open(filepath.Join(dir, "db"), storage.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := run(t, "check", dir); !errors.Is(err, storage.ErrLocked) || !strings.Contains(err.Error(), "stop the node") {
		t.Fatalf("locked store: %v", err)
	}
}
