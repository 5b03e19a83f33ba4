package node

import (
	"errors"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlecs/mlecs/mesh"
	"github.com/mlecs/mlecs/mesh/wire"
)

func TestBodyRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		k wire.Kind
		b Body
	}{
		{wire.KindHeartbeat, Body{Role: RoleEdge, Modalities: []string{"image"}, Anchor: "12D3KooWX", Global: hA}},
		{wire.KindAnchor, Body{Role: RoleAnchorCapable, LeaseMs: 1000, LeaseExpiry: 1700000000000, Global: hA}},
		{wire.KindAnchor, Body{Role: RoleAnchor, Release: true}},
		{wire.KindRound, Body{Global: hB}},
		{wire.KindUpdate, Body{Update: hC}},
		{wire.KindUpdate, Body{Update: hC, Size: 49705}},
		{wire.KindRound, Body{Global: hB, Size: MaxBlobBytes}},
	} {
		enc, err := tc.b.Encode()
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeBody(tc.k, enc)
		if err != nil {
			t.Fatalf("%v: %v (%s)", tc.k, err, enc)
		}
		if got.V != BodyVersion || got.Global != tc.b.Global || got.Update != tc.b.Update || got.Role != tc.b.Role || got.Size != tc.b.Size {
			t.Fatalf("%v: round trip %+v -> %+v", tc.k, tc.b, got)
		}
	}
}

func TestDecodeBodyRejects(t *testing.T) {
	tests := []struct {
		name string
		k    wire.Kind
		in   string
	}{
		{"not json", wire.KindHeartbeat, `hello`},
		{"wrong version", wire.KindHeartbeat, `{"v":2,"role":"edge"}`},
		{"unknown field", wire.KindHeartbeat, `{"v":1,"role":"edge","boss":true}`},
		{"trailing data", wire.KindHeartbeat, `{"v":1,"role":"edge"}{}`},
		{"no role", wire.KindHeartbeat, `{"v":1}`},
		{"edge claims lease", wire.KindAnchor, `{"v":1,"role":"edge","lease_ms":1000}`},
		{"claim without lease", wire.KindAnchor, `{"v":1,"role":"anchor-capable"}`},
		{"negative lease", wire.KindAnchor, `{"v":1,"role":"anchor-capable","lease_ms":-5}`},
		{"round without global", wire.KindRound, `{"v":1}`},
		{"bad hash", wire.KindRound, `{"v":1,"global":"xyz"}`},
		{"upper-case hash", wire.KindRound, `{"v":1,"global":"` + strings.ToUpper(hA) + `"}`},
		{"update without update", wire.KindUpdate, `{"v":1}`},
		{"too many modalities", wire.KindHeartbeat, `{"v":1,"role":"edge","modalities":[` + strings.Repeat(`"a",`, 16) + `"a"]}`},
		{"empty modality", wire.KindHeartbeat, `{"v":1,"role":"edge","modalities":[""]}`},
		{"oversized", wire.KindHeartbeat, `{"v":1,"role":"edge","anchor":"` + strings.Repeat("x", MaxBodyBytes) + `"}`},
		{"unknown kind", wire.Kind(9), `{"v":1}`},
		{"oversized blob declared", wire.KindUpdate, `{"v":1,"update":"` + hC + `","size":268435457}`},
		{"negative blob size", wire.KindRound, `{"v":1,"global":"` + hB + `","size":-1}`},
		{"size without blob", wire.KindHeartbeat, `{"v":1,"role":"edge","size":10}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeBody(tc.k, []byte(tc.in)); !errors.Is(err, ErrBadMessage) {
				t.Fatalf("err %v, want ErrBadMessage", err)
			}
		})
	}
}

func FuzzDecodeBody(f *testing.F) {
	f.Add(uint8(1), []byte(`{"v":1,"role":"edge","modalities":["image"]}`))
	f.Add(uint8(2), []byte(`{"v":1,"role":"anchor","lease_ms":1000}`))
	f.Add(uint8(3), []byte(`{"v":1,"global":"`+hA+`"}`))
	f.Add(uint8(4), []byte(`{"v":1,"update":"`+hB+`"}`))
	f.Fuzz(func(t *testing.T, k uint8, b []byte) {
		body, err := DecodeBody(wire.Kind(k), b)
		if err != nil {
			return
		}
		// Anything accepted re-encodes and decodes to the same fields.
		enc, err := body.Encode()
		if err != nil {
			t.Fatalf("accepted body does not encode: %v", err)
		}
		again, err := DecodeBody(wire.Kind(k), enc)
		if err != nil || again.Global != body.Global || again.Update != body.Update || again.Role != body.Role {
			t.Fatalf("re-decode: %v %+v vs %+v", err, again, body)
		}
	})
}

// TestPolicyRefusesOversizedDeclaration: an update or round manifest that declares a blob over
// MaxBlobBytes is rejected by the node's validator (a mesh Reject, which costs the sender gossipsub
// score) before anything is fetched; one at the cap passes.
func TestPolicyRefusesOversizedDeclaration(t *testing.T) {
	n := &Node{m: newNodeMetrics(prometheus.NewRegistry())}
	n.fence.Store(1)
	for _, tc := range []struct {
		kind wire.Kind
		body string
		want mesh.Verdict
	}{
		{wire.KindUpdate, `{"v":1,"update":"` + hC + `","size":268435456}`, mesh.Accept},
		{wire.KindUpdate, `{"v":1,"update":"` + hC + `","size":268435457}`, mesh.Reject},
		{wire.KindRound, `{"v":1,"global":"` + hB + `","size":9000000000}`, mesh.Reject},
	} {
		env := &wire.Envelope{Kind: tc.kind, Term: 1, Body: []byte(tc.body)}
		if got := n.Check(peer.ID("x"), env); got != tc.want {
			t.Errorf("%v %s: verdict %v, want %v", tc.kind, tc.body, got, tc.want)
		}
	}
}
