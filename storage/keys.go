package storage

import (
	"encoding/binary"
	"fmt"
	"strings"
)

const (
	prefixBlobManifest = "b/m/"
	prefixBlobData     = "b/d/"
	prefixCkptManifest = "c/m/"
	prefixCkptData     = "c/d/"
	prefixPeer         = "p/"
	prefixMetric       = "m/"
	prefixState        = "s/"
)

func key(prefix string, parts ...[]byte) []byte {
	n := len(prefix)
	for _, p := range parts {
		n += len(p)
	}
	k := make([]byte, 0, n)
	k = append(k, prefix...)
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func blobManifestKey(h Hash) []byte { return key(prefixBlobManifest, h[:]) }
func blobDataPrefix(id uint64) []byte {
	return key(prefixBlobData, be64(id))
}
func blobChunkKey(id uint64, i uint32) []byte { return key(prefixBlobData, be64(id), be32(i)) }

// ckptID names one checkpoint slot.
type ckptID struct {
	kind        string
	term, round uint64
}

func (c ckptID) String() string { return fmt.Sprintf("%s/term=%d/round=%d", c.kind, c.term, c.round) }

func ckptKindManifestPrefix(kind string) []byte {
	return key(prefixCkptManifest, []byte(kind), []byte{0})
}
func ckptManifestKey(c ckptID) []byte {
	return key(prefixCkptManifest, []byte(c.kind), []byte{0}, be64(c.term), be64(c.round))
}
func ckptSavePrefix(c ckptID, save uint64) []byte {
	return key(prefixCkptData, []byte(c.kind), []byte{0}, be64(c.term), be64(c.round), be64(save))
}
func ckptChunkKey(c ckptID, save uint64, tensor, chunk uint32) []byte {
	return key(prefixCkptData, []byte(c.kind), []byte{0}, be64(c.term), be64(c.round), be64(save), be32(tensor), be32(chunk))
}

// parseCkptKey splits the "<kind>\x00<term><round>" part after a checkpoint prefix.
func parseCkptKey(rest []byte) (ckptID, []byte, bool) {
	i := strings.IndexByte(string(rest), 0)
	if i <= 0 || len(rest) < i+1+16 {
		return ckptID{}, nil, false
	}
	c := ckptID{kind: string(rest[:i])}
	c.term = binary.BigEndian.Uint64(rest[i+1:])
	c.round = binary.BigEndian.Uint64(rest[i+9:])
	return c, rest[i+17:], true
}

// keyString renders a key for error messages: printable prefix, hex for the rest.
func keyString(k []byte) string {
	for i, c := range k {
		if c < 0x20 || c > 0x7e {
			return fmt.Sprintf("%s%x", k[:i], k[i:])
		}
	}
	return string(k)
}
