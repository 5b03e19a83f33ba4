package storage

import (
	"bytes"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// logSink captures log output so tests can assert what was reported.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logSink) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func openDisk(t testing.TB, dir string, opts ...Option) *Store {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	opts = append([]Option{WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	s, err := Open(dir, opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openMem(t testing.TB, opts ...Option) *Store {
	t.Helper()
	opts = append([]Option{WithLogger(slog.New(slog.DiscardHandler)), WithInMemory()}, opts...)
	s, err := Open("", opts...)
	if err != nil {
		t.Fatalf("Open in memory: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// genReader produces n deterministic pseudo-random bytes from seed without holding them.
type genReader struct {
	rng *rand.ChaCha8
	n   int64
}

func newGen(seed uint64, n int64) *genReader {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return &genReader{rng: rand.NewChaCha8(s), n: n}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.n {
		p = p[:g.n]
	}
	g.rng.Read(p)
	g.n -= int64(len(p))
	return len(p), nil
}

func genBytes(seed uint64, n int64) []byte {
	b, _ := io.ReadAll(newGen(seed, n))
	return b
}

// testCheckpoint builds a deterministic checkpoint whose values derive from seed.
func testCheckpoint(kind string, term, round uint64, seed uint64, sizes ...int) *Checkpoint {
	cp := &Checkpoint{Kind: kind, Term: term, Round: round,
		Meta: map[string]string{"round": strings.Repeat("r", int(round%5)), "seed": string(rune('a' + seed%26))}}
	rng := rand.New(rand.NewPCG(seed, 7))
	for i, n := range sizes {
		t := NamedTensor{Name: "w" + string(rune('a'+i)), Shape: []int{n}, Data: make([]float32, n)}
		for j := range t.Data {
			t.Data[j] = float32(rng.NormFloat64())
		}
		cp.Tensors = append(cp.Tensors, t)
	}
	return cp
}

func equalCheckpoints(t testing.TB, got, want *Checkpoint) {
	t.Helper()
	if got.Kind != want.Kind || got.Term != want.Term || got.Round != want.Round {
		t.Fatalf("checkpoint id %s/%d/%d, want %s/%d/%d", got.Kind, got.Term, got.Round, want.Kind, want.Term, want.Round)
	}
	if len(got.Meta) != len(want.Meta) {
		t.Fatalf("meta %v, want %v", got.Meta, want.Meta)
	}
	for k, v := range want.Meta {
		if got.Meta[k] != v {
			t.Fatalf("meta[%q] = %q, want %q", k, got.Meta[k], v)
		}
	}
	if len(got.Tensors) != len(want.Tensors) {
		t.Fatalf("%d tensors, want %d", len(got.Tensors), len(want.Tensors))
	}
	for i := range want.Tensors {
		g, w := got.Tensors[i], want.Tensors[i]
		if g.Name != w.Name || !equalInts(g.Shape, w.Shape) || len(g.Data) != len(w.Data) {
			t.Fatalf("tensor %d: %q %v len %d, want %q %v len %d", i, g.Name, g.Shape, len(g.Data), w.Name, w.Shape, len(w.Data))
		}
		for j := range w.Data {
			if math.Float32bits(g.Data[j]) != math.Float32bits(w.Data[j]) {
				t.Fatalf("tensor %q [%d] = %v, want %v", w.Name, j, g.Data[j], w.Data[j])
			}
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// countKeys counts keys under prefix, straight from Badger.
func countKeys(t testing.TB, s *Store, prefix []byte) int {
	t.Helper()
	n := 0
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// corruptValue rewrites the value stored at key in Badger with f applied, bypassing the
// store: it simulates bit rot or a torn write under our format.
func corruptValue(t testing.TB, s *Store, key []byte, f func([]byte) []byte) {
	t.Helper()
	err := s.db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		return txn.Set(key, f(v))
	})
	if err != nil {
		t.Fatalf("corrupt %s: %v", keyString(key), err)
	}
}

func flipByte(i int) func([]byte) []byte {
	return func(v []byte) []byte {
		v[i%len(v)] ^= 0x40
		return v
	}
}

type badgerTxn = badger.Txn
