package mesh

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
)

// GenerateIdentity makes a new Ed25519 host key.
func GenerateIdentity() (crypto.PrivKey, error) {
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate identity: %w", err)
	}
	return k, nil
}

// MarshalIdentity encodes a host key in libp2p's protobuf key format.
func MarshalIdentity(k crypto.PrivKey) ([]byte, error) {
	b, err := crypto.MarshalPrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("marshal identity: %w", err)
	}
	return b, nil
}

// UnmarshalIdentity decodes a key written by MarshalIdentity and returns
// it with its peer id.
func UnmarshalIdentity(b []byte) (crypto.PrivKey, peer.ID, error) {
	k, err := crypto.UnmarshalPrivateKey(b)
	if err != nil {
		return nil, "", fmt.Errorf("unmarshal identity: %w", err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		return nil, "", fmt.Errorf("identity peer id: %w", err)
	}
	return k, id, nil
}

// GeneratePSK makes a new random private-network key.
func GeneratePSK() ([]byte, error) {
	psk := make([]byte, PSKSize)
	if _, err := rand.Read(psk); err != nil {
		return nil, fmt.Errorf("generate network key: %w", err)
	}
	return psk, nil
}

// EncodePSK writes psk in the swarm.key format that IPFS and libp2p tools
// share ("/key/swarm/psk/1.0.0/", "/base16/", hex).
func EncodePSK(psk []byte) ([]byte, error) {
	if len(psk) != PSKSize {
		return nil, fmt.Errorf("%w: network key is %d bytes, want %d", ErrInvalidOption, len(psk), PSKSize)
	}
	return []byte("/key/swarm/psk/1.0.0/\n/base16/\n" + hex.EncodeToString(psk) + "\n"), nil
}

// DecodePSK reads a swarm.key file (see EncodePSK).
func DecodePSK(r io.Reader) ([]byte, error) {
	psk, err := pnet.DecodeV1PSK(io.LimitReader(r, 4096))
	if err != nil {
		return nil, fmt.Errorf("%w: network key: %w", ErrInvalidOption, err)
	}
	if len(psk) != PSKSize {
		return nil, fmt.Errorf("%w: network key is %d bytes, want %d", ErrInvalidOption, len(psk), PSKSize)
	}
	return psk, nil
}
