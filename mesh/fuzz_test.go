package mesh

import (
	"bytes"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/mlecs/mlecs/mesh/wire"
)

// FuzzParsePeerList feeds arbitrary bytes through the whole peer-list
// path (wire decode, then peer id and multiaddr parsing): it must never
// panic, and whatever it accepts must be well-formed ids and addresses.
func FuzzParsePeerList(f *testing.F) {
	id, _ := peer.Decode("12D3KooWQhzpBcqf3U19uzFZPr8AmCUAvQA7NqC7uyDZqE1m313R")
	addr := ma.StringCast("/ip4/127.0.0.1/tcp/4001")
	good, _ := wire.EncodePeerList(nil, []wire.PeerRecord{{ID: []byte(id), Addrs: [][]byte{addr.Bytes()}}})
	f.Add(good)
	f.Add([]byte{1, 0, 1, 0, 2, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := wire.DecodePeerList(b)
		if err != nil {
			return
		}
		infos, err := parsePeerRecords(recs)
		if err != nil {
			return
		}
		for _, ai := range infos {
			if err := ai.ID.Validate(); err != nil {
				t.Fatalf("accepted invalid id: %v", err)
			}
			for _, a := range ai.Addrs {
				if len(a.Bytes()) == 0 {
					t.Fatal("accepted empty multiaddr")
				}
			}
		}
	})
}

// FuzzDecodePSK: any accepted network key file yields exactly 32 bytes.
func FuzzDecodePSK(f *testing.F) {
	good, _ := EncodePSK(testPSK())
	f.Add(good)
	f.Add([]byte("/key/swarm/psk/1.0.0/\n/base64/\nAAAA\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		psk, err := DecodePSK(bytes.NewReader(b))
		if err == nil && len(psk) != PSKSize {
			t.Fatalf("accepted a %d-byte key", len(psk))
		}
	})
}
