package node

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mlecs/mlecs/mesh"
)

// ErrExists is returned when a key file would be overwritten.
var ErrExists = errors.New("file exists")

// maxKeyFile bounds key and PSK files (an Ed25519 key is 68 bytes, a PSK file 95).
const maxKeyFile = 4 << 10

// GenerateKey creates an Ed25519 libp2p identity and writes it (libp2p protobuf encoding) to path with
// mode 0600. It refuses to overwrite an existing file and returns the peer id.
func GenerateKey(path string) (peer.ID, error) {
	priv, err := mesh.GenerateIdentity()
	if err != nil {
		return "", err
	}
	b, err := mesh.MarshalIdentity(priv)
	if err != nil {
		return "", err
	}
	if err := writeNew(path, b); err != nil {
		return "", err
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("peer id: %w", err)
	}
	return id, nil
}

// LoadKey reads a key written by GenerateKey.
func LoadKey(path string) (crypto.PrivKey, error) {
	b, err := readSmall(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	k, _, err := mesh.UnmarshalIdentity(b)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}

// GeneratePSK writes a fresh 32-byte pre-shared network key in libp2p's text format
// ("/key/swarm/psk/1.0.0/", "/base16/", hex) to path with mode 0600, refusing to overwrite.
func GeneratePSK(path string) error {
	psk, err := mesh.GeneratePSK()
	if err != nil {
		return err
	}
	b, err := mesh.EncodePSK(psk)
	if err != nil {
		return err
	}
	return writeNew(path, b)
}

// LoadPSK reads a key written by GeneratePSK (or any libp2p v1 PSK file).
func LoadPSK(path string) ([]byte, error) {
	b, err := readSmall(path)
	if err != nil {
		return nil, fmt.Errorf("read psk: %w", err)
	}
	psk, err := mesh.DecodePSK(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("psk file %s: %w", path, err)
	}
	return psk, nil
}

// loadOrCreateKey loads path, creating a new identity there first when create is set and it is missing.
func loadOrCreateKey(path string, create bool) (crypto.PrivKey, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) && create {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create key dir: %w", err)
		}
		if _, err := GenerateKey(path); err != nil {
			return nil, err
		}
	}
	return LoadKey(path)
}

func writeNew(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%w: refusing to overwrite %s", ErrExists, path)
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}

func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxKeyFile)
	}
	return b, nil
}
