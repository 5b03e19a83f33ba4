// Package mesh is mlecs's libp2p layer: a private-network host, discovery,
// the gossipsub control plane with validation and peer scoring, and a
// content-addressed, resumable blob protocol. It knows nothing of training,
// storage or the node's state machine; it consumes two small interfaces,
// Policy (may this author say this now?) and BlobSource (serve a blob by
// hash), and offers Sink for receiving blobs.
//
// # Transport and access
//
// TCP only, Noise, yamux; no relay, QUIC or WebRTC. A 32-byte pre-shared
// key (WithPSK) makes the host a member of a private network: a peer
// without the key cannot complete a connection. WithAllowlist adds a
// connection gater that refuses, in both directions, any peer not listed.
// The libp2p resource manager caps memory, connections, streams per peer
// and concurrent blob transfers per peer (WithResourceLimits).
//
// # Discovery
//
// See discovery.go: bootstrap addresses are dialled and kept with backoff;
// a small peer-list exchange (/mlecs/peers/1.0.0) on every new connection
// and periodically lets eight hosts started from one bootstrap address all
// connect to each other; gossipsub PX and an optional private Kademlia DHT
// (/mlecs/kad/1.0.0, WithDHT) help larger meshes; WithMDNS(true) adds
// local-network discovery (off by default, never in tests).
//
// # Control plane
//
// Gossipsub on /mlecs/meshsub/1.0.0 with StrictSign and flood publishing,
// one topic per message kind per run: "mlecs/<run>/heartbeat", "/anchor",
// "/round", "/update". Each message is one wire.Envelope. A validator per
// topic applies, in order: size cap, decode (schema version, bounds), run
// id, kind = topic, age by SentAt (stale => Ignore), per-author replay
// window on Seq (replay => Reject, below window => Ignore), then the
// consumer's Policy. Rejects feed gossipsub's peer score (invalid message
// deliveries), visible through PeerScore and Scores, and are logged at WARN.
// Misbehaviour outside gossipsub's view (a blob over the cap, bytes that miss
// their hash, a broken blob stream; for the node, updates its aggregation
// refuses) goes through Penalize into the application-specific score term.
//
// # Blobs
//
// /mlecs/blob/1.0.0: the receiver sends (hash, offset, maxSize); the
// sender answers a status and the blob's size, refusing blobs over maxSize,
// then length-prefixed frames and an empty end frame. Fetch refuses an
// announced size over maxSize before reading payload, writes to a Sink,
// verifies SHA-256 over the resumed prefix plus the new bytes, and commits
// the sink only on a match (discarding it on a mismatch).
package mesh
