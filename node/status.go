package node

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Status reports the node's state for GET /v1/status.
func (n *Node) Status() Status {
	n.snapMu.RLock()
	s := n.snap.state
	n.snapMu.RUnlock()
	mods := n.cfg.Modalities
	if mods == nil {
		mods = []string{}
	}
	return Status{
		PeerID: n.self.String(), PID: os.Getpid(), Role: n.cfg.Role, Anchor: s.Anchor, Term: s.Term,
		Round: s.GlobalRound, Phase: s.Phase, Global: s.Global, RunID: n.cfg.RunID,
		ListenAddrs: addrStrings(n.host.Addrs()), Modalities: mods,
		UptimeS:   time.Since(n.started).Round(time.Millisecond).Seconds(),
		StartedAt: n.started.UTC().Format(time.RFC3339),
		PeakRSS:   PeakRSS(),
		PeakAnon:  n.sampleAnon(),
	}
}

// PeakRSS is the process's peak resident set size in bytes (VmHWM of /proc/self/status), or 0 where
// the kernel does not report it. A container has no shell to read its cgroup from, so the daemon
// reports its own high-water mark.
func PeakRSS() int64 { return procStatusBytes("VmHWM:") }

// sampleAnon updates and returns the peak of the process's anonymous resident memory (RssAnon: heap,
// stacks). Unlike VmHWM it leaves out file pages (the binary, Badger's mapped tables), which the
// kernel can drop under a cgroup limit and which are shared between processes, so it is what a memory
// limit has to hold. The kernel keeps no peak of it: the node samples it every heartbeat and on status.
func (n *Node) sampleAnon() int64 {
	v := procStatusBytes("RssAnon:")
	for {
		old := n.peakAnon.Load()
		if v <= old || n.peakAnon.CompareAndSwap(old, v) {
			return max(v, old)
		}
	}
}

// procStatusBytes reads a "kB" field of /proc/self/status in bytes; 0 where it is missing.
func procStatusBytes(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// Peers reports every peer the mesh knows or whose heartbeat we heard, for GET /v1/peers.
func (n *Node) Peers() []PeerInfo {
	n.snapMu.RLock()
	views := n.snap.peers
	n.snapMu.RUnlock()
	seen := map[peer.ID]bool{}
	out := []PeerInfo{}
	for _, mp := range n.host.Peers() {
		seen[mp.ID] = true
		p := PeerInfo{
			PeerID: mp.ID.String(), Addrs: addrStrings(mp.Addrs), Modalities: []string{},
			LatencyMS: float64(mp.Latency.Microseconds()) / 1000, Score: mp.Score,
			BytesIn: mp.BytesIn, BytesOut: mp.BytesOut, Connected: mp.Connected,
		}
		if v, ok := views[mp.ID]; ok {
			fillView(&p, v)
		}
		out = append(out, p)
	}
	for id, v := range views {
		if seen[id] {
			continue
		}
		p := PeerInfo{PeerID: id.String(), Addrs: []string{}, Modalities: []string{}}
		fillView(&p, v)
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b PeerInfo) int {
		switch {
		case a.PeerID < b.PeerID:
			return -1
		case a.PeerID > b.PeerID:
			return 1
		}
		return 0
	})
	return out
}

func fillView(p *PeerInfo, v peerView) {
	p.Role, p.Term = v.role, v.term
	if v.modalities != nil {
		p.Modalities = v.modalities
	}
	if !v.lastSeen.IsZero() {
		p.LastSeen = v.lastSeen.UTC().Format(time.RFC3339Nano)
	}
}
