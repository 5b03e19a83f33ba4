package storage

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/dgraph-io/badger/v4"
)

// putRecord and getRecord are the single-key helpers behind the peer book and node state.
func (s *Store) putRecord(what string, k, v []byte) error {
	if err := s.checkSpace("put "+what, int64(len(k)+len(v))); err != nil {
		return err
	}
	err := s.do(func(db *badger.DB) error {
		return db.Update(func(txn *badger.Txn) error { return txn.Set(k, v) })
	})
	if err != nil {
		return fmt.Errorf("put %s: %w", what, err)
	}
	return nil
}

func (s *Store) getRecord(what string, k []byte) ([]byte, error) {
	var v []byte
	err := s.view(func(txn *badger.Txn) error {
		var err error
		v, err = getValue(txn, k)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", what, err)
	}
	return v, nil
}

// deleteRecord removes k, or returns ErrNotFound. It reads before it deletes, so a
// concurrent put of the same key can make Badger report a conflict; it then retries.
func (s *Store) deleteRecord(what string, k []byte) error {
	var err error
	for range 5 {
		err = s.do(func(db *badger.DB) error {
			return db.Update(func(txn *badger.Txn) error {
				if _, err := getValue(txn, k); err != nil {
					return err
				}
				return txn.Delete(k)
			})
		})
		if !errors.Is(err, badger.ErrConflict) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", what, err)
	}
	return nil
}

// scanPrefix calls fn with a copy of each key suffix and value under prefix, in key order.
func (s *Store) scanPrefix(ctx context.Context, prefix []byte, fn func(k, v []byte) error) error {
	return s.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if err := fn(it.Item().KeyCopy(nil)[len(prefix):], v); err != nil {
				return err
			}
		}
		return nil
	})
}

// ---- node state ----

const (
	maxStateKeyLen = 256
	maxStateValue  = 64 << 10
)

func checkName(what, s string, max int) error {
	if s == "" || len(s) > max || !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s %q: want 1..%d bytes of UTF-8", ErrInvalid, what, clip(s), max)
	}
	return nil
}

// PutState stores a small value (at most 64 KiB) under key, e.g. "term", "round", "anchor".
func (s *Store) PutState(ctx context.Context, key string, value []byte) error {
	if err := ctxErr(ctx, "put state"); err != nil {
		return err
	}
	if err := checkName("state key", key, maxStateKeyLen); err != nil {
		return err
	}
	if len(value) > maxStateValue {
		return fmt.Errorf("put state %q: %w: %d bytes exceeds %d", key, ErrTooLarge, len(value), maxStateValue)
	}
	return s.putRecord("state "+key, key2(prefixState, key), value)
}

// GetState returns the value stored under key, or ErrNotFound.
func (s *Store) GetState(ctx context.Context, key string) ([]byte, error) {
	if err := ctxErr(ctx, "get state"); err != nil {
		return nil, err
	}
	if err := checkName("state key", key, maxStateKeyLen); err != nil {
		return nil, err
	}
	return s.getRecord("state "+key, key2(prefixState, key))
}

// DeleteState removes key, or returns ErrNotFound.
func (s *Store) DeleteState(ctx context.Context, key string) error {
	if err := ctxErr(ctx, "delete state"); err != nil {
		return err
	}
	if err := checkName("state key", key, maxStateKeyLen); err != nil {
		return err
	}
	return s.deleteRecord("state "+key, key2(prefixState, key))
}

func key2(prefix, s string) []byte { return key(prefix, []byte(s)) }

// ---- peer book ----

// PeerRecord is what a node remembers about another node.
type PeerRecord struct {
	ID         string   // libp2p peer id
	Addrs      []string // multiaddrs
	Role       string   // "edge", "anchor", ...
	Modalities []string
	LastSeen   time.Time
	Meta       map[string]string // free-form (version, preset, ...)
}

const (
	peerMagic, peerVersion = "MLPR", 1
	maxPeerIDLen           = 256
	maxAddrs               = 64
	maxAddrLen             = 1024
	maxModalities          = 32
	maxShortStr            = 64
	maxPeerMeta            = 64
	maxPeerMetaValLen      = 4096
)

func checkPeer(p *PeerRecord) error {
	if err := checkName("peer id", p.ID, maxPeerIDLen); err != nil {
		return err
	}
	if len(p.Addrs) > maxAddrs || len(p.Modalities) > maxModalities || len(p.Meta) > maxPeerMeta {
		return fmt.Errorf("%w: peer %s: at most %d addrs, %d modalities and %d meta entries",
			ErrTooLarge, p.ID, maxAddrs, maxModalities, maxPeerMeta)
	}
	for _, a := range p.Addrs {
		if err := checkName("peer addr", a, maxAddrLen); err != nil {
			return err
		}
	}
	for _, m := range p.Modalities {
		if err := checkName("peer modality", m, maxShortStr); err != nil {
			return err
		}
	}
	if len(p.Role) > maxShortStr || !utf8.ValidString(p.Role) {
		return fmt.Errorf("%w: peer %s: role %q: want at most %d bytes of UTF-8", ErrInvalid, p.ID, clip(p.Role), maxShortStr)
	}
	for k, v := range p.Meta {
		if err := checkName("peer meta key", k, maxShortStr); err != nil {
			return err
		}
		if len(v) > maxPeerMetaValLen || !utf8.ValidString(v) {
			return fmt.Errorf("%w: peer %s: meta %q: want at most %d bytes of UTF-8", ErrInvalid, p.ID, k, maxPeerMetaValLen)
		}
	}
	return nil
}

func encodePeer(p *PeerRecord) []byte {
	e := encoder{}
	e.raw([]byte(peerMagic))
	e.u8(peerVersion)
	e.str16(p.ID)
	e.u8(uint8(len(p.Addrs)))
	for _, a := range p.Addrs {
		e.str16(a)
	}
	e.str8(p.Role)
	e.u8(uint8(len(p.Modalities)))
	for _, m := range p.Modalities {
		e.str8(m)
	}
	e.time(p.LastSeen)
	e.u8(uint8(len(p.Meta)))
	for _, k := range sortedKeys(p.Meta) {
		e.str8(k)
		e.str16(p.Meta[k])
	}
	return e.b
}

func decodePeer(b []byte) (PeerRecord, error) {
	d := decoder{what: "peer record", b: b}
	d.header(peerMagic, peerVersion)
	p := PeerRecord{ID: d.str16("id", maxPeerIDLen)}
	if n := d.count("addr count", uint64(d.u8("addr count")), maxAddrs, 2); n > 0 {
		p.Addrs = make([]string, n)
		for i := range p.Addrs {
			p.Addrs[i] = d.str16("addr", maxAddrLen)
		}
	}
	p.Role = d.str8("role", maxShortStr)
	if n := d.count("modality count", uint64(d.u8("modality count")), maxModalities, 1); n > 0 {
		p.Modalities = make([]string, n)
		for i := range p.Modalities {
			p.Modalities[i] = d.str8("modality", maxShortStr)
		}
	}
	p.LastSeen = d.time("last seen")
	if n := d.count("meta count", uint64(d.u8("meta count")), maxPeerMeta, 3); n > 0 {
		p.Meta = make(map[string]string, n)
		prev := ""
		for i := range n {
			k := d.str8("meta key", maxShortStr)
			if d.err == nil && i > 0 && k <= prev {
				d.fail("meta key", "%q out of order or repeated", k)
			}
			prev = k
			p.Meta[k] = d.str16("meta value", maxPeerMetaValLen)
		}
	}
	if err := d.finish(); err != nil {
		return PeerRecord{}, err
	}
	if p.ID == "" {
		return PeerRecord{}, fmt.Errorf("%w: peer record: empty id", ErrCorrupt)
	}
	return p, nil
}

// PutPeer inserts or replaces the record for p.ID.
func (s *Store) PutPeer(ctx context.Context, p PeerRecord) error {
	if err := ctxErr(ctx, "put peer"); err != nil {
		return err
	}
	if err := checkPeer(&p); err != nil {
		return fmt.Errorf("put peer: %w", err)
	}
	return s.putRecord("peer "+p.ID, key2(prefixPeer, p.ID), encodePeer(&p))
}

// Peer returns the record for id, or ErrNotFound.
func (s *Store) Peer(ctx context.Context, id string) (PeerRecord, error) {
	if err := ctxErr(ctx, "get peer"); err != nil {
		return PeerRecord{}, err
	}
	v, err := s.getRecord("peer "+id, key2(prefixPeer, id))
	if err != nil {
		return PeerRecord{}, err
	}
	p, err := decodePeer(v)
	if err != nil {
		return PeerRecord{}, fmt.Errorf("get peer %s: %w", id, err)
	}
	return p, nil
}

// Peers returns every peer record, ordered by ID. Corrupt records are logged and skipped.
func (s *Store) Peers(ctx context.Context) ([]PeerRecord, error) {
	var out []PeerRecord
	err := s.scanPrefix(ctx, []byte(prefixPeer), func(k, v []byte) error {
		p, err := decodePeer(v)
		if err != nil {
			s.log.Warn("skip corrupt peer record", "peer", string(k), "err", err)
			return nil
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list peers: %w", err)
	}
	return out, nil
}

// DeletePeer removes the record for id, or returns ErrNotFound.
func (s *Store) DeletePeer(ctx context.Context, id string) error {
	if err := ctxErr(ctx, "delete peer"); err != nil {
		return err
	}
	if err := checkName("peer id", id, maxPeerIDLen); err != nil {
		return err
	}
	return s.deleteRecord("peer "+id, key2(prefixPeer, id))
}
