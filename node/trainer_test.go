package node

import (
	"context"
	"errors"
	"math"
	"testing"
)

func TestVectorCodec(t *testing.T) {
	v := Vector{Weight: 7, Params: []float32{1, -2.5, 0, 3e-8}}
	got, err := DecodeVector(EncodeVector(v))
	if err != nil || got.Weight != 7 || len(got.Params) != 4 || got.Params[1] != -2.5 {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	nan := EncodeVector(Vector{Params: []float32{float32(math.NaN())}})
	bad := map[string][]byte{
		"empty":     nil,
		"magic":     []byte("XXXX\x00\x00\x00\x00\x00\x00\x00\x00"),
		"truncated": EncodeVector(v)[:20],
		"trailing":  append(EncodeVector(v), 0),
		"huge dim":  []byte("MLV1\xff\xff\xff\xff\x00\x00\x00\x00"),
		"nan":       nan,
	}
	for name, b := range bad {
		if _, err := DecodeVector(b); !errors.Is(err, ErrBadVector) {
			t.Errorf("%s: err %v, want ErrBadVector", name, err)
		}
	}
}

func FuzzDecodeVector(f *testing.F) {
	f.Add(EncodeVector(Vector{Weight: 1, Params: []float32{1, 2}}))
	f.Add([]byte("MLV1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeVector(b)
		if err != nil {
			return
		}
		if string(EncodeVector(v)) != string(b) {
			t.Fatal("accepted vector does not re-encode to the same bytes")
		}
	})
}

// TestFedAvgConverges runs rounds by hand: the global model converges to the sample-weighted mean of
// the nodes' targets, the optimum of the federated objective.
func TestFedAvgConverges(t *testing.T) {
	ctx := context.Background()
	const dim, nodes = 8, 4
	trainers := make([]*VectorTrainer, nodes)
	want := make([]float64, dim)
	var total float64
	for i := range trainers {
		tr, err := NewVectorTrainer(dim, i)
		if err != nil {
			t.Fatal(err)
		}
		trainers[i] = tr
		for j, x := range tr.Target {
			want[j] += float64(tr.Samples) * float64(x)
		}
		total += float64(tr.Samples)
	}
	for j := range want {
		want[j] /= total
	}
	global, _ := trainers[0].Init(ctx)
	dist := func() float64 {
		g, _ := DecodeVector(global)
		var d float64
		for j, x := range g.Params {
			d += (float64(x) - want[j]) * (float64(x) - want[j])
		}
		return math.Sqrt(d)
	}
	d0 := dist()
	for r := range 30 {
		ups := make([][]byte, nodes)
		for i, tr := range trainers {
			u, err := tr.LocalRound(ctx, uint64(r), global)
			if err != nil {
				t.Fatal(err)
			}
			ups[i] = u
		}
		g, err := trainers[0].Aggregate(ctx, uint64(r), global, ups)
		if err != nil {
			t.Fatal(err)
		}
		global = g
	}
	if d := dist(); d > 1e-4*d0 || d > 1e-4 {
		t.Fatalf("distance to the weighted mean: %.3g after 30 rounds (start %.3g)", d, d0)
	}
	if _, err := trainers[0].Aggregate(ctx, 0, global, nil); err == nil {
		t.Fatal("aggregate of no updates succeeded")
	}
	other, _ := NewVectorTrainer(dim+1, 0)
	wrong, _ := other.Init(ctx)
	if _, err := trainers[0].LocalRound(ctx, 0, wrong); !errors.Is(err, ErrBadVector) {
		t.Fatalf("wrong-dim global: %v", err)
	}
}
