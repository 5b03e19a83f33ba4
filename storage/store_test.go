package storage

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOpenValidatesOptions(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		dir  string
		opts []Option
		want string
	}{
		{"nil logger", dir, []Option{WithLogger(nil)}, "nil logger"},
		{"zero blob cap", dir, []Option{WithMaxBlobSize(0)}, "WithMaxBlobSize(0)"},
		{"huge blob cap", dir, []Option{WithMaxBlobSize(1 << 40)}, "WithMaxBlobSize"},
		{"negative checkpoint cap", dir, []Option{WithMaxCheckpointSize(-1)}, "WithMaxCheckpointSize(-1)"},
		{"nil option", dir, []Option{nil}, "nil Option"},
		{"in memory with dir", dir, []Option{WithInMemory()}, "dir must be empty"},
		{"no dir", "", nil, "empty data dir"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.dir, tc.opts...)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalid mentioning %q", err, tc.want)
			}
		})
	}
}

// A second open of the same directory (here from this process, through a separate file
// descriptor: flock treats it like another process) fails with ErrLocked naming the dir.
func TestOpenLockedDir(t *testing.T) {
	dir := t.TempDir()
	s := openDisk(t, dir)
	_, err := Open(dir, WithLogger(slog.New(slog.DiscardHandler)))
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second Open: %v, want ErrLocked naming %s", err, dir)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s2.Close()
}

func TestClosedStore(t *testing.T) {
	s := openMem(t)
	ctx := t.Context()
	h, err := s.PutBlobBytes(ctx, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.OpenBlob(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checks := map[string]error{
		"Close":          s.Close(),
		"PutState":       s.PutState(ctx, "k", nil),
		"SaveCheckpoint": s.SaveCheckpoint(ctx, testCheckpoint("edge", 1, 1, 1, 3)),
		"PutPeer":        s.PutPeer(ctx, PeerRecord{ID: "p"}),
	}
	_, checks["PutBlobBytes"] = s.PutBlobBytes(ctx, []byte("y"))
	_, checks["LatestCheckpoint"] = s.LatestCheckpoint(ctx, "edge")
	_, checks["Read"] = r.Read(make([]byte, 1))
	_, checks["GC"] = s.GC(ctx)
	for name, err := range checks {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

// Everything written survives a close and reopen of the directory.
func TestRestartPersistence(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s := openDisk(t, dir)
	blob := genBytes(1, 3*chunkSize+5)
	h, err := s.PutBlobBytes(ctx, blob)
	if err != nil {
		t.Fatal(err)
	}
	cp := testCheckpoint("anchor", 2, 7, 9, 1000, 300_000)
	if err := s.SaveCheckpoint(ctx, cp); err != nil {
		t.Fatal(err)
	}
	seen := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	peer := PeerRecord{ID: "12D3KooW", Addrs: []string{"/ip4/127.0.0.1/tcp/4001"}, Role: "edge",
		Modalities: []string{"image", "audio"}, LastSeen: seen, Meta: map[string]string{"v": "1"}}
	if err := s.PutPeer(ctx, peer); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendMetric(ctx, MetricPoint{Round: 3, Name: "loss", Value: 0.5, Time: seen}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutState(ctx, "term", []byte{2}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openDisk(t, dir)
	got, err := s.ReadBlob(ctx, h)
	if err != nil || string(got) != string(blob) {
		t.Fatalf("blob after restart: %d bytes, err %v", len(got), err)
	}
	gcp, err := s.LatestCheckpoint(ctx, "anchor")
	if err != nil {
		t.Fatal(err)
	}
	equalCheckpoints(t, gcp, cp)
	peers, err := s.Peers(ctx)
	if err != nil || len(peers) != 1 || peers[0].ID != peer.ID || !peers[0].LastSeen.Equal(seen) || peers[0].Modalities[1] != "audio" {
		t.Fatalf("peers after restart: %+v, %v", peers, err)
	}
	ms, err := s.Metrics(ctx, "loss")
	if err != nil || len(ms) != 1 || ms[0].Value != 0.5 || ms[0].Round != 3 {
		t.Fatalf("metrics after restart: %+v, %v", ms, err)
	}
	v, err := s.GetState(ctx, "term")
	if err != nil || len(v) != 1 || v[0] != 2 {
		t.Fatalf("state after restart: %v, %v", v, err)
	}
}

// A kill between Badger creating a memtable or value-log file and sizing it leaves an
// empty file; the store must still open, with everything committed before intact.
func TestOpenAfterCrashLeftEmptyLogs(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s := openDisk(t, dir)
	cp := testCheckpoint("edge", 1, 4, 2, 1000)
	if err := s.SaveCheckpoint(ctx, cp); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"00099.mem", "000099.vlog"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	s = openDisk(t, dir)
	got, err := s.LatestCheckpoint(ctx, "edge")
	if err != nil {
		t.Fatal(err)
	}
	equalCheckpoints(t, got, cp)
	if err := s.SaveCheckpoint(ctx, testCheckpoint("edge", 1, 5, 3, 1000)); err != nil {
		t.Fatalf("write after reopen: %v", err)
	}
}
