package wire

import (
	"encoding/binary"
	"fmt"
)

// Caps on the peer list exchanged by the discovery protocol.
const (
	MaxPeerListPeers = 64  // peers per list
	MaxPeerIDBytes   = 128 // bytes of one binary peer id
	MaxPeerAddrs     = 8   // addresses per peer
	MaxAddrBytes     = 256 // bytes of one binary multiaddr
	// MaxPeerList is the largest valid encoded peer list.
	MaxPeerList = 1 + 2 + MaxPeerListPeers*(2+MaxPeerIDBytes+1+MaxPeerAddrs*(2+MaxAddrBytes))
)

// PeerRecord is one entry of a peer list: a binary peer id and binary
// multiaddrs. They stay opaque bytes here; the mesh parses them.
type PeerRecord struct {
	ID    []byte
	Addrs [][]byte
}

// EncodePeerList appends the encoding of peers to dst.
func EncodePeerList(dst []byte, peers []PeerRecord) ([]byte, error) {
	if len(peers) > MaxPeerListPeers {
		return dst, fmt.Errorf("encode peer list: %d peers > %d: %w", len(peers), MaxPeerListPeers, ErrTooLarge)
	}
	dst = append(dst, Version)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(peers)))
	for i, p := range peers {
		if len(p.ID) == 0 || len(p.ID) > MaxPeerIDBytes {
			return dst, fmt.Errorf("encode peer list: peer %d: id of %d bytes: %w", i, len(p.ID), ErrInvalid)
		}
		if len(p.Addrs) > MaxPeerAddrs {
			return dst, fmt.Errorf("encode peer list: peer %d: %d addrs > %d: %w", i, len(p.Addrs), MaxPeerAddrs, ErrTooLarge)
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(p.ID)))
		dst = append(dst, p.ID...)
		dst = append(dst, uint8(len(p.Addrs)))
		for j, a := range p.Addrs {
			if len(a) == 0 || len(a) > MaxAddrBytes {
				return dst, fmt.Errorf("encode peer list: peer %d addr %d: %d bytes: %w", i, j, len(a), ErrInvalid)
			}
			dst = binary.BigEndian.AppendUint16(dst, uint16(len(a)))
			dst = append(dst, a...)
		}
	}
	return dst, nil
}

// DecodePeerList parses a peer list that must fill b exactly. The returned
// records copy their bytes out of b.
func DecodePeerList(b []byte) ([]PeerRecord, error) {
	if len(b) > MaxPeerList {
		return nil, fmt.Errorf("decode peer list: %d bytes > %d: %w", len(b), MaxPeerList, ErrTooLarge)
	}
	r := reader{b: b}
	if v := r.u8(); r.err == nil && v != Version {
		return nil, fmt.Errorf("decode peer list: version %d: %w", v, ErrVersion)
	}
	n := int(r.u16())
	if r.err == nil && n > MaxPeerListPeers {
		return nil, fmt.Errorf("decode peer list: %d peers > %d: %w", n, MaxPeerListPeers, ErrTooLarge)
	}
	var out []PeerRecord
	for i := 0; i < n && r.err == nil; i++ {
		id := r.bytes16("peer id", MaxPeerIDBytes)
		if r.err == nil && len(id) == 0 {
			return nil, fmt.Errorf("decode peer list: peer %d: empty id: %w", i, ErrInvalid)
		}
		na := int(r.u8())
		if r.err == nil && na > MaxPeerAddrs {
			return nil, fmt.Errorf("decode peer list: peer %d: %d addrs > %d: %w", i, na, MaxPeerAddrs, ErrTooLarge)
		}
		rec := PeerRecord{ID: append([]byte(nil), id...)}
		for j := 0; j < na && r.err == nil; j++ {
			a := r.bytes16("addr", MaxAddrBytes)
			if r.err == nil && len(a) == 0 {
				return nil, fmt.Errorf("decode peer list: peer %d addr %d: empty: %w", i, j, ErrInvalid)
			}
			rec.Addrs = append(rec.Addrs, append([]byte(nil), a...))
		}
		out = append(out, rec)
	}
	if r.err != nil {
		return nil, fmt.Errorf("decode peer list: %w", r.err)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("decode peer list: %d extra bytes: %w", len(r.b), ErrTrailing)
	}
	return out, nil
}
