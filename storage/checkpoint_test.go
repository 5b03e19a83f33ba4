package storage

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestCheckpointRoundTrip(t *testing.T) {
	s := openDisk(t, "")
	ctx := t.Context()
	cp := testCheckpoint("edge", 3, 14, 1, 5, 700_000, 1)
	cp.Tensors = append(cp.Tensors,
		NamedTensor{Name: "scalar", Shape: []int{}, Data: []float32{2.5}},
		NamedTensor{Name: "empty", Shape: []int{0, 4}, Data: []float32{}},
		NamedTensor{Name: "lora.A", Shape: []int{3, 2, 2}, Data: []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}})
	if err := s.SaveCheckpoint(ctx, cp); err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadCheckpoint(ctx, "edge", 3, 14)
	if err != nil {
		t.Fatal(err)
	}
	equalCheckpoints(t, got, cp)
	if got.Created.IsZero() {
		t.Fatal("Created not set")
	}
	if _, err := s.LoadCheckpoint(ctx, "edge", 3, 15); !errors.Is(err, ErrNotFound) {
		t.Fatalf("absent round: %v, want ErrNotFound", err)
	}
	if _, err := s.LatestCheckpoint(ctx, "anchor"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("absent kind: %v, want ErrNotFound", err)
	}
}

// Newest is the highest (term, round); kinds do not mix; list is oldest first.
func TestCheckpointOrderAndList(t *testing.T) {
	s := openMem(t)
	ctx := t.Context()
	for _, tr := range [][2]uint64{{1, 9}, {2, 1}, {1, 300}, {2, 0}} {
		if err := s.SaveCheckpoint(ctx, testCheckpoint("global", tr[0], tr[1], tr[1], 4)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveCheckpoint(ctx, testCheckpoint("global-x", 9, 9, 1, 4)); err != nil {
		t.Fatal(err)
	}
	latest, err := s.LatestCheckpoint(ctx, "global")
	if err != nil || latest.Term != 2 || latest.Round != 1 {
		t.Fatalf("latest = %+v, %v; want term 2 round 1", latest, err)
	}
	list, err := s.ListCheckpoints(ctx, "global")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range list {
		got = append(got, fmt.Sprintf("%d/%d", c.Term, c.Round))
		if c.Tensors != 1 || c.Bytes == 0 || c.Problem != "" || c.Meta["seed"] == "" {
			t.Fatalf("info %+v", c)
		}
	}
	if strings.Join(got, " ") != "1/9 1/300 2/0 2/1" {
		t.Fatalf("list order %v", got)
	}
	all, err := s.ListCheckpoints(ctx, "")
	if err != nil || len(all) != 5 {
		t.Fatalf("list all: %d, %v", len(all), err)
	}
}

func TestCheckpointValidation(t *testing.T) {
	s := openMem(t, WithMaxCheckpointSize(1<<20))
	ctx := t.Context()
	ok := func() *Checkpoint { return testCheckpoint("edge", 1, 1, 1, 4) }
	tests := []struct {
		name   string
		mutate func(*Checkpoint)
		want   error
	}{
		{"empty kind", func(c *Checkpoint) { c.Kind = "" }, ErrInvalid},
		{"upper-case kind", func(c *Checkpoint) { c.Kind = "Edge" }, ErrInvalid},
		{"kind with NUL", func(c *Checkpoint) { c.Kind = "e\x00" }, ErrInvalid},
		{"shape mismatch", func(c *Checkpoint) { c.Tensors[0].Shape = []int{5} }, ErrInvalid},
		{"negative dim", func(c *Checkpoint) { c.Tensors[0].Shape = []int{-4, -1} }, ErrInvalid},
		{"rank 9", func(c *Checkpoint) { c.Tensors[0].Shape = []int{1, 1, 1, 1, 1, 1, 1, 1, 4} }, ErrInvalid},
		{"no name", func(c *Checkpoint) { c.Tensors[0].Name = "" }, ErrInvalid},
		{"duplicate name", func(c *Checkpoint) { c.Tensors = append(c.Tensors, c.Tensors[0]) }, ErrInvalid},
		{"empty meta key", func(c *Checkpoint) { c.Meta[""] = "x" }, ErrInvalid},
		{"over cap", func(c *Checkpoint) {
			c.Tensors[0] = NamedTensor{Name: "big", Shape: []int{300_000}, Data: make([]float32, 300_000)}
		}, ErrTooLarge},
		{"too many tensors", func(c *Checkpoint) {
			c.Tensors = make([]NamedTensor, maxTensors+1)
		}, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cp := ok()
			tc.mutate(cp)
			if err := s.SaveCheckpoint(ctx, cp); !errors.Is(err, tc.want) {
				t.Fatalf("SaveCheckpoint: %v, want %v", err, tc.want)
			}
		})
	}
	if err := s.SaveCheckpoint(ctx, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("nil checkpoint: %v", err)
	}
	if n := countKeys(t, s, []byte(prefixCkptData)) + countKeys(t, s, []byte(prefixCkptManifest)); n != 0 {
		t.Fatalf("%d keys written by rejected checkpoints", n)
	}
}

// Damage written straight into Badger's values: LatestCheckpoint skips each damaged one,
// logs why, and returns the newest intact one.
func TestLatestCheckpointFallsBack(t *testing.T) {
	var logs logSink
	s := openMem(t, WithLogger(logs.logger()))
	ctx := t.Context()
	cps := map[uint64]*Checkpoint{}
	for r := uint64(1); r <= 4; r++ {
		cps[r] = testCheckpoint("edge", 1, r, r, 100, 2*chunkSize/4+10)
		if err := s.SaveCheckpoint(ctx, cps[r]); err != nil {
			t.Fatal(err)
		}
	}
	save := func(r uint64) uint64 {
		m, err := decodeCkptManifest(mustGet(t, s, ckptManifestKey(ckptID{"edge", 1, r})))
		if err != nil {
			t.Fatal(err)
		}
		return m.save
	}
	expectLatest := func(round uint64, reason string) {
		t.Helper()
		got, err := s.LatestCheckpoint(ctx, "edge")
		if err != nil {
			t.Fatalf("LatestCheckpoint: %v", err)
		}
		equalCheckpoints(t, got, cps[round])
		if !strings.Contains(logs.String(), reason) {
			t.Fatalf("log does not mention %q:\n%s", reason, logs.String())
		}
	}

	// Round 4: a flipped bit in the second chunk of tensor 1.
	id4 := ckptID{"edge", 1, 4}
	corruptValue(t, s, ckptChunkKey(id4, save(4), 1, 1), flipByte(1234))
	expectLatest(3, "SHA-256 mismatch")
	if _, err := s.LoadCheckpoint(ctx, "edge", 1, 4); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("LoadCheckpoint(round 4): %v, want ErrCorrupt", err)
	}
	// Round 3: its manifest damaged.
	corruptValue(t, s, ckptManifestKey(ckptID{"edge", 1, 3}), flipByte(30))
	expectLatest(2, "record checksum mismatch")
	// Round 2: a chunk lost.
	if err := s.db.Update(func(txn *badgerTxn) error {
		return txn.Delete(ckptChunkKey(ckptID{"edge", 1, 2}, save(2), 1, 0))
	}); err != nil {
		t.Fatal(err)
	}
	expectLatest(1, "chunk 0 of 3 missing")
	// Round 1: a truncated chunk.
	corruptValue(t, s, ckptChunkKey(ckptID{"edge", 1, 1}, save(1), 0, 0), func(v []byte) []byte { return v[:7] })
	if _, err := s.LatestCheckpoint(ctx, "edge"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("all damaged: %v, want ErrCorrupt", err)
	}
	list, _ := s.ListCheckpoints(ctx, "edge")
	if len(list) != 4 || list[2].Problem == "" || list[3].Problem != "" {
		t.Fatalf("list should flag only round 3's manifest: %+v", list)
	}
}

func mustGet(t *testing.T, s *Store, k []byte) []byte {
	t.Helper()
	var v []byte
	if err := s.db.View(func(txn *badgerTxn) error {
		var err error
		v, err = getValue(txn, k)
		return err
	}); err != nil {
		t.Fatalf("get %s: %v", keyString(k), err)
	}
	return v
}

// Saving the same (kind, term, round) again replaces it and drops the old chunks.
func TestCheckpointReplace(t *testing.T) {
	s := openMem(t)
	ctx := t.Context()
	a := testCheckpoint("anchor", 1, 1, 1, 200_000)
	b := testCheckpoint("anchor", 1, 1, 2, 300)
	for _, cp := range []*Checkpoint{a, b} {
		if err := s.SaveCheckpoint(ctx, cp); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.LatestCheckpoint(ctx, "anchor")
	if err != nil {
		t.Fatal(err)
	}
	equalCheckpoints(t, got, b)
	if n := countKeys(t, s, []byte(prefixCkptData)); n != 1 {
		t.Fatalf("%d chunk keys after replace, want 1", n)
	}
}

func TestPrune(t *testing.T) {
	s := openMem(t)
	ctx := t.Context()
	for r := uint64(1); r <= 6; r++ {
		if err := s.SaveCheckpoint(ctx, testCheckpoint("edge", 1, r, r, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveCheckpoint(ctx, testCheckpoint("anchor", 1, 1, 1, 10)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prune(ctx, "edge", 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("keep 0: %v", err)
	}
	n, err := s.Prune(ctx, "edge", 2)
	if err != nil || n != 4 {
		t.Fatalf("Prune = %d, %v; want 4", n, err)
	}
	rounds := func() (out []uint64) {
		list, _ := s.ListCheckpoints(ctx, "edge")
		for _, c := range list {
			out = append(out, c.Round)
		}
		return out
	}
	if got := fmt.Sprint(rounds()); got != "[5 6]" {
		t.Fatalf("after prune: %s", got)
	}
	if n := countKeys(t, s, []byte(prefixCkptData)); n != 3 {
		t.Fatalf("%d chunk keys after prune, want 3 (2 edge + 1 anchor)", n)
	}
	// Rounds 7 and 8 are saved with damaged manifests: keep=1 keeps round 8 (newest) and
	// also round 6, the newest intact one, so LatestCheckpoint still has a good state.
	for r := uint64(7); r <= 8; r++ {
		if err := s.SaveCheckpoint(ctx, testCheckpoint("edge", 1, r, r, 1000)); err != nil {
			t.Fatal(err)
		}
		corruptValue(t, s, ckptManifestKey(ckptID{"edge", 1, r}), flipByte(9))
	}
	if _, err := s.Prune(ctx, "edge", 1); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(rounds()); got != "[6 8]" {
		t.Fatalf("after prune with damaged newest: %s, want [6 8]", got)
	}
	latest, err := s.LatestCheckpoint(ctx, "edge")
	if err != nil || latest.Round != 6 {
		t.Fatalf("latest after prune: %v, %v", latest, err)
	}
	if err := s.DeleteCheckpoint(ctx, "edge", 1, 6); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteCheckpoint(ctx, "edge", 1, 6); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

// A write error in the middle of a checkpoint (a full or failing disk) leaves the previous
// checkpoint intact and nothing of the failed one visible.
func TestInjectedWriteErrorKeepsPrevious(t *testing.T) {
	diskFull := errors.New("no space left on device (injected)")
	for _, at := range []string{"batch 1", "manifest"} {
		t.Run(at, func(t *testing.T) {
			s := openDisk(t, "")
			ctx := t.Context()
			prev := testCheckpoint("global", 1, 1, 1, 1000, 1_100_000)
			if err := s.SaveCheckpoint(ctx, prev); err != nil {
				t.Fatal(err)
			}
			dataKeys := countKeys(t, s, []byte(prefixCkptData))
			s.fault = func(op string, batch int) error {
				if at == "manifest" && op == "checkpoint manifest" || at == "batch 1" && batch == 1 {
					return diskFull
				}
				return nil
			}
			// Both a new round and an overwrite of the existing one.
			for _, next := range []*Checkpoint{
				testCheckpoint("global", 1, 2, 2, 1000, 1_100_000),
				testCheckpoint("global", 1, 1, 3, 1000, 1_100_000),
			} {
				if err := s.SaveCheckpoint(ctx, next); !errors.Is(err, diskFull) {
					t.Fatalf("SaveCheckpoint: %v, want the injected error", err)
				}
			}
			s.fault = nil
			got, err := s.LatestCheckpoint(ctx, "global")
			if err != nil {
				t.Fatal(err)
			}
			equalCheckpoints(t, got, prev)
			if n := countKeys(t, s, []byte(prefixCkptData)); n != dataKeys {
				t.Fatalf("%d chunk keys after failed saves, want %d", n, dataKeys)
			}
			if list, _ := s.ListCheckpoints(ctx, "global"); len(list) != 1 {
				t.Fatalf("list after failed saves: %+v", list)
			}
		})
	}
}

func TestTensorCodec(t *testing.T) {
	tn := NamedTensor{Name: "h.0.attn", Shape: []int{2, 3}, Data: []float32{1, -2, 3.5, 0, -0, 6}}
	b, err := EncodeTensor(tn)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeTensor(b)
	if err != nil || got.Name != tn.Name || !equalInts(got.Shape, tn.Shape) || got.Data[2] != 3.5 {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	huge := append([]byte(nil), b...)
	copy(huge[4+2+2+len(tn.Name)+1:], []byte{0xff, 0xff, 0xff, 0xff}) // dim 0 = 4 billion
	bad := map[string][]byte{
		"empty":        nil,
		"magic":        append([]byte("XXXX"), b[4:]...),
		"version":      append(append([]byte("MLTN"), 9), b[5:]...),
		"truncated":    b[:len(b)-1],
		"trailing":     append(append([]byte(nil), b...), 0, 0, 0, 0),
		"huge dim":     huge,
		"header only":  b[:12],
		"name too big": append(append([]byte("MLTN"), 1, 1, 0xff, 0xff), make([]byte, 100)...),
	}
	for name, in := range bad {
		if _, err := DecodeTensor(in); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}
