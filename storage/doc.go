// Package storage is the node's durable state and the only user of Badger.
//
// It holds five kinds of record (blobs, checkpoints, peers, metrics, small state),
// each under its own key prefix:
//
//	b/m/<sha256>                                    blob manifest (size, chunk CRC-32C, upload id)
//	b/d/<upload id><chunk>                          blob chunk data (512 KiB values, inline in the LSM tree)
//	c/m/<kind>\x00<term><round>                     checkpoint manifest (per-tensor SHA-256)
//	c/d/<kind>\x00<term><round><save id><tensor><chunk>  checkpoint tensor chunks
//	p/<peer id>                                     peer book record
//	m/<name>\x00<round><unix nanos><seq>            metric point
//	s/<key>                                         small node state (term, round, anchor)
//
// Integers in keys are big-endian so that Badger's byte order is numeric order.
//
// Multi-chunk objects (blobs, checkpoints) are written in two phases: chunks go under a
// fresh random id that nothing references, then one small manifest naming that id is
// committed last. A crash at any point leaves either the old state or the new one; the
// unreferenced chunks of an interrupted write are removed by [Store.GC]. Every stored
// record carries a format version and is decoded with explicit bounds, so a corrupt
// length field yields [ErrCorrupt], never a huge allocation.
//
// Large state that is replaced often (a node's learner) is kept outside Badger, whose LSM tree
// holds a deleted value's bytes until a compaction reaches it: [FileCheckpoints] keeps the
// checkpoints of one kind as checksummed files in one directory, each written to a temporary
// file, fsynced and renamed into place (filecheckpoint.go).
package storage
