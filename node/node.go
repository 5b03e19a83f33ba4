// Package node is the mlecs daemon: it wires the mesh (libp2p), storage (Badger) and a Trainer together,
// runs anchor election and the round state machine, and serves the local control API.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlecs/mlecs/mesh"
	"github.com/mlecs/mlecs/mesh/wire"
	"github.com/mlecs/mlecs/storage"
)

// Option configures New.
type Option func(*options) error

type options struct {
	log     *slog.Logger
	trainer Trainer
	rand    func() float64
}

// WithLogger sets the structured logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrConfig)
		}
		o.log = l
		return nil
	}
}

// WithTrainer plugs in the learning step (default: the VectorTrainer of the configured partition).
func WithTrainer(t Trainer) Option {
	return func(o *options) error {
		if t == nil {
			return fmt.Errorf("%w: nil trainer", ErrConfig)
		}
		o.trainer = t
		return nil
	}
}

// Node is a running daemon. Its event loop goroutine owns the election and round state; the control
// API and the mesh policy read snapshots and atomics.
type Node struct {
	cfg     Config
	log     *slog.Logger
	host    meshHost
	store   nodeStore
	trainer Trainer
	reg     *prometheus.Registry
	m       *nodeMetrics
	api     *apiServer
	self    peer.ID
	started time.Time
	// peakAnon is the highest RssAnon seen (sampleAnon).
	peakAnon atomic.Int64
	// localRounds counts the local rounds trained since start (learner checkpoints are due by it).
	localRounds atomic.Uint64
	// learners holds the learner checkpoint files; nil unless a StatefulTrainer checkpoints its learner.
	learners *storage.FileCheckpoints

	inbox chan func() // work for the loop goroutine, posted by workers and timers
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup

	// Read by the mesh policy on pubsub goroutines.
	fence     atomic.Uint64          // current term: older messages are refused
	anchorPtr atomic.Pointer[string] // current anchor, "" when none

	snapMu sync.RWMutex
	snap   snapshot

	// Owned by the loop goroutine.
	el          *Election
	rs          State
	peers       map[peer.ID]*peerView
	best        globalRef // newest global announced by a peer
	fetching    map[storage.Hash]bool
	trainCancel context.CancelFunc
	deadline    *time.Timer // the anchor's round deadline (ActArmDeadline)
	trainSeq    uint64      // generation of the training in flight; stale results are dropped
	lostAt      time.Time   // when the last anchor was lost (failover timing)
	peersSaved  time.Time   // last peer book write
	pruned      time.Time   // last blob prune pass
	gcAt        time.Time   // last storage GC (node/prune.go)
	localTick   time.Time   // last EvLocalTick (local training without an anchor)
	roundAt     time.Time   // when this node, as anchor, last started a round (min_round_interval)
	lastUpdate  string      // this node's newest update blob (kept by pruning)
	globalSize  blobSizeRef // byte length of the global that heartbeats name (declared as Body.Size)
	closeOnce   sync.Once

	noRelease atomic.Bool // tests: leave like a crash, without the final release heartbeat
}

// snapshot is what the control API reads.
type snapshot struct {
	state State
	peers map[peer.ID]peerView
}

type blobSizeRef struct {
	hash string
	size int64
}

type globalRef struct {
	term, round uint64
	hash        storage.Hash
	size        int64 // declared by the announcing peer; 0 = not declared
	from        peer.ID
}

// New opens the store, starts the mesh host and the control API. Run starts the protocol.
func New(ctx context.Context, cfg Config, opts ...Option) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{log: slog.Default(), rand: rand.Float64}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.trainer == nil {
		t, err := NewVectorTrainer(cfg.ParamDim, cfg.Partition)
		if err != nil {
			return nil, err
		}
		o.trainer = t
	}
	n := &Node{
		cfg: cfg, log: o.log, trainer: o.trainer, reg: prometheus.NewRegistry(), started: time.Now(),
		inbox: make(chan func(), 256), peers: map[peer.ID]*peerView{}, fetching: map[storage.Hash]bool{},
	}
	n.m = newNodeMetrics(n.reg)
	n.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mlecs_peak_anon_rss_bytes",
		Help: "Peak anonymous resident memory of the process (RssAnon, sampled every heartbeat)."},
		func() float64 { return float64(n.peakAnon.Load()) }))
	n.ctx, n.stop = context.WithCancel(context.Background())
	if err := n.open(ctx, o); err != nil {
		n.closeAll()
		return nil, err
	}
	return n, nil
}

func (n *Node) open(ctx context.Context, o options) error {
	if err := os.MkdirAll(n.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	keyPath := n.cfg.KeyFile
	if keyPath == "" {
		keyPath = filepath.Join(n.cfg.DataDir, "node.key")
	}
	key, err := loadOrCreateKey(keyPath, n.cfg.KeyFile == "")
	if err != nil {
		return err
	}
	st, err := storage.Open(filepath.Join(n.cfg.DataDir, "db"), storage.WithLogger(n.log))
	if err != nil {
		return fmt.Errorf("open storage: %w", err)
	}
	n.store = st
	if err := n.restore(ctx); err != nil {
		return err
	}
	// The policy may run as soon as the host exists: give it the persisted term first.
	n.fence.Store(n.rs.Term)
	empty := ""
	n.anchorPtr.Store(&empty)
	self, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return fmt.Errorf("peer id: %w", err)
	}
	host, err := newMeshHost(ctx, n.cfg, key, knownPeers(ctx, st, self), n.log, n)
	if err != nil {
		return err
	}
	n.host = host
	n.self = host.ID()
	n.rs.Self = n.self.String()
	n.el = NewElection(ElectionParams{
		Self: n.rs.Self, Role: n.cfg.Role, Term: n.rs.Term, Heartbeat: n.cfg.Heartbeat.D(),
		Lease: n.cfg.Lease.D(), Backoff: n.cfg.Backoff.D(), Rand: o.rand, Now: time.Now(),
	})
	var reg *prometheus.Registry
	if n.cfg.Metrics {
		reg = n.reg
	}
	api, err := startAPI(n.cfg.APIAddr, NewAPIHandler(n, reg, n.log))
	if err != nil {
		return err
	}
	n.api = api
	if err := writeFileAtomic(filepath.Join(n.cfg.DataDir, "api.addr"), []byte(api.Addr()+"\n")); err != nil {
		return err
	}
	n.publishSnapshot()
	n.log.Info("node started", "peer", n.self, "role", n.cfg.Role, "api", api.Addr(), "run", n.cfg.RunID,
		"term", n.rs.Term, "round", n.rs.GlobalRound, "addrs", n.Status().ListenAddrs)
	return nil
}

// restore loads the persisted term, the learner state (StatefulTrainer) and the newest global
// checkpoint, or creates the genesis global.
func (n *Node) restore(ctx context.Context) error {
	n.rs = State{Phase: PhaseIdle, Quorum: n.cfg.Quorum}
	term, err := n.loadTerm(ctx)
	if err != nil {
		return err
	}
	n.rs.Term = term
	n.restoreLearner(ctx)
	ck, ok, err := n.latestCheckpoint(ctx)
	if err != nil {
		return err
	}
	if ok {
		n.rs.GlobalRound, n.rs.Global = ck.round, ck.hash.String()
		n.log.Info("resumed from checkpoint", "term", ck.term, "round", ck.round, "global", ck.hash.String()[:12])
		return nil
	}
	g, err := n.trainer.Init(ctx)
	if err != nil {
		return fmt.Errorf("genesis model: %w", err)
	}
	h, err := n.store.PutBlobBytes(ctx, g)
	if err != nil {
		return fmt.Errorf("store genesis model: %w", err)
	}
	if err := n.saveCheckpoint(ctx, 0, 0, h); err != nil {
		return err
	}
	n.rs.GlobalRound, n.rs.Global = 0, h.String()
	return nil
}

// APIAddr is the bound control API address.
func (n *Node) APIAddr() string { return n.api.Addr() }

// ID is the node's peer id.
func (n *Node) ID() peer.ID { return n.self }

// Registry is the node's Prometheus registry.
func (n *Node) Registry() *prometheus.Registry { return n.reg }

// Run runs the protocol until ctx ends, then leaves gracefully (releasing the anchor lease) and closes
// everything. It always closes the node.
func (n *Node) Run(ctx context.Context) error {
	defer n.closeAll()
	subs := make([]<-chan mesh.Message, 0, 4)
	for _, k := range []wire.Kind{wire.KindHeartbeat, wire.KindAnchor, wire.KindRound, wire.KindUpdate} {
		c, cancel, err := n.host.Subscribe(k)
		if err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
		defer cancel()
		subs = append(subs, c)
	}
	tick := time.NewTicker(n.cfg.Heartbeat.D())
	defer tick.Stop()
	n.apply(EvStart{})
	n.onTick(time.Now())
	for {
		select {
		case <-ctx.Done():
			n.leave()
			return nil
		case now := <-tick.C:
			n.onTick(now)
		case f := <-n.inbox:
			f()
		case msg, ok := <-subs[0]:
			n.receive(msg, ok, &subs[0])
		case msg, ok := <-subs[1]:
			n.receive(msg, ok, &subs[1])
		case msg, ok := <-subs[2]:
			n.receive(msg, ok, &subs[2])
		case msg, ok := <-subs[3]:
			n.receive(msg, ok, &subs[3])
		}
		n.publishSnapshot()
	}
}

// receive handles one subscription read; a closed subscription is set to nil so select skips it.
func (n *Node) receive(msg mesh.Message, ok bool, sub *<-chan mesh.Message) {
	if !ok {
		*sub = nil
		return
	}
	n.onMessage(msg)
}

// post hands f to the loop goroutine; it is dropped once the node is stopping.
func (n *Node) post(f func()) {
	select {
	case n.inbox <- f:
	case <-n.ctx.Done():
	}
}

// goWork runs f on a worker goroutine tracked for shutdown.
func (n *Node) goWork(f func()) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f()
	}()
}

// leave releases the anchor lease with a final heartbeat so others re-elect at once.
func (n *Node) leave() {
	now := time.Now()
	if !n.noRelease.Load() && n.el.Release(now) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := n.publish(ctx, wire.KindAnchor, n.el.Term(), n.rs.Round, Body{
			Role: n.cfg.Role, Modalities: n.cfg.Modalities, Release: true, Global: n.rs.Global,
		}); err != nil {
			n.log.Warn("release heartbeat not sent", "err", err)
		} else {
			// Publish only queues the message; give gossipsub a moment to send it before the host closes.
			time.Sleep(min(n.cfg.Heartbeat.D(), 200*time.Millisecond))
			n.log.Info("anchor lease released", "term", n.el.Term())
		}
	}
	n.log.Info("node leaving", "peer", n.self)
}

// Close releases everything of a node whose Run was never called (Run closes on its own).
func (n *Node) Close() { n.closeAll() }

// closeAll stops workers and closes the API, the mesh host and the store, in that order.
func (n *Node) closeAll() {
	n.closeOnce.Do(func() {
		n.stop()
		if n.trainCancel != nil {
			n.trainCancel()
		}
		if n.deadline != nil {
			n.deadline.Stop() // a timer that fires anyway finds ctx done and posts nothing
		}
		n.wg.Wait()
		var errs []error
		if n.api != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			errs = append(errs, n.api.close(ctx))
			cancel()
			_ = os.Remove(filepath.Join(n.cfg.DataDir, "api.addr"))
		}
		if n.host != nil {
			errs = append(errs, n.host.Close())
		}
		if n.store != nil {
			errs = append(errs, n.store.Close())
		}
		if err := errors.Join(errs...); err != nil {
			n.log.Warn("close node", "err", err)
		}
	})
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
