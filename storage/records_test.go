package storage

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func TestPeerBook(t *testing.T) {
	s := openMem(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Nanosecond)
	a := PeerRecord{ID: "peer-a", Addrs: []string{"/ip4/127.0.0.1/tcp/1", "/ip4/127.0.0.1/udp/1/quic-v1"},
		Role: "anchor", Modalities: []string{"text"}, LastSeen: now, Meta: map[string]string{"preset": "tiny"}}
	b := PeerRecord{ID: "peer-b", Role: "edge"}
	for _, p := range []PeerRecord{b, a} {
		if err := s.PutPeer(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	a.Role = "edge" // update in place
	if err := s.PutPeer(ctx, a); err != nil {
		t.Fatal(err)
	}
	peers, err := s.Peers(ctx)
	if err != nil || len(peers) != 2 {
		t.Fatalf("Peers = %+v, %v", peers, err)
	}
	got := peers[0]
	if got.ID != "peer-a" || got.Role != "edge" || len(got.Addrs) != 2 || got.Addrs[1] != a.Addrs[1] ||
		!got.LastSeen.Equal(now) || got.Meta["preset"] != "tiny" || peers[1].ID != "peer-b" || !peers[1].LastSeen.IsZero() {
		t.Fatalf("Peers = %+v", peers)
	}
	if p, err := s.Peer(ctx, "peer-b"); err != nil || p.Role != "edge" {
		t.Fatalf("Peer = %+v, %v", p, err)
	}
	if err := s.DeletePeer(ctx, "peer-a"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePeer(ctx, "peer-a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := s.Peer(ctx, "peer-a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted peer: %v", err)
	}
	for name, bad := range map[string]PeerRecord{
		"no id":         {},
		"too many addr": {ID: "x", Addrs: make([]string, maxAddrs+1)},
		"empty addr":    {ID: "x", Addrs: []string{""}},
		"long role":     {ID: "x", Role: strings.Repeat("r", 100)},
		"bad utf8":      {ID: "x", Modalities: []string{"\xff"}},
	} {
		if err := s.PutPeer(ctx, bad); err == nil {
			t.Errorf("PutPeer(%s) accepted", name)
		}
	}
	// A damaged record is skipped by Peers and reported by Peer.
	corruptValue(t, s, key2(prefixPeer, "peer-b"), func(v []byte) []byte { return v[:len(v)-3] })
	if peers, err := s.Peers(ctx); err != nil || len(peers) != 0 {
		t.Fatalf("Peers with a damaged record: %+v, %v", peers, err)
	}
	if _, err := s.Peer(ctx, "peer-b"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Peer(damaged): %v", err)
	}
}

func TestMetricsHistory(t *testing.T) {
	s := openMem(t)
	ctx := t.Context()
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	points := []MetricPoint{
		{Round: 2, Name: "loss", Value: 1.5, Time: t0.Add(2 * time.Second)},
		{Round: 1, Name: "loss", Value: 2.5, Time: t0.Add(time.Second)},
		{Round: 2, Name: "loss", Value: 1.4, Time: t0.Add(2 * time.Second)}, // same round and time
		{Round: 10, Name: "loss", Value: math.NaN(), Time: t0},
		{Round: 1, Name: "rougeLsum", Value: 0.3},
		{Round: 1, Name: "loss/x", Value: 9},
	}
	for _, p := range points {
		if err := s.AppendMetric(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Metrics(ctx, "loss")
	if err != nil {
		t.Fatal(err)
	}
	var desc []string
	for _, p := range got {
		desc = append(desc, fmt.Sprintf("%d:%v", p.Round, p.Value))
	}
	if strings.Join(desc, " ") != "1:2.5 2:1.5 2:1.4 10:NaN" {
		t.Fatalf("Metrics(loss) = %v", desc)
	}
	if r, _ := s.Metrics(ctx, "rougeLsum"); len(r) != 1 || r[0].Time.IsZero() {
		t.Fatalf("Metrics(rougeLsum) = %+v (Time should default to now)", r)
	}
	names, err := s.MetricNames(ctx)
	if err != nil || fmt.Sprint(names) != "[loss loss/x rougeLsum]" {
		t.Fatalf("MetricNames = %v, %v", names, err)
	}
	if err := s.AppendMetric(ctx, MetricPoint{Name: "a\x00b"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("NUL in name: %v", err)
	}
	if m, err := s.Metrics(ctx, "absent"); err != nil || len(m) != 0 {
		t.Fatalf("absent metric: %v, %v", m, err)
	}
}

func TestNodeState(t *testing.T) {
	s := openMem(t)
	ctx := t.Context()
	if _, err := s.GetState(ctx, "term"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("absent: %v", err)
	}
	for _, v := range [][]byte{{1}, {2, 3}, {}} {
		if err := s.PutState(ctx, "term", v); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetState(ctx, "term")
		if err != nil || string(got) != string(v) {
			t.Fatalf("GetState = %v, %v; want %v", got, err, v)
		}
	}
	if err := s.PutState(ctx, "big", make([]byte, maxStateValue+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized: %v", err)
	}
	if err := s.PutState(ctx, "", nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty key: %v", err)
	}
	if err := s.DeleteState(ctx, "term"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteState(ctx, "term"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}
