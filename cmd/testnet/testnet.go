// Package testnet implements `mlecs testnet local`: N daemons as separate processes on loopback.
package testnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlecs/mlecs/node"
)

// ErrUsage is returned for bad flags.
var ErrUsage = errors.New("usage")

// maxNodes bounds a local testnet: each node is a process with a libp2p host and a Badger store.
const maxNodes = 64

type options struct {
	nodes     int
	anchors   int
	pinned    bool
	dir       string
	runID     string
	heartbeat time.Duration
	lease     time.Duration
	deadline  time.Duration
	quorum    int
	exe       string // binary to start; default this executable
}

// NewCmd returns the testnet command with its local subcommand.
func NewCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "testnet", Short: "Run test networks of mlecs daemons"}
	cmd.AddCommand(newLocalCmd(&options{}))
	return cmd
}

func newLocalCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "local --nodes N --dir DIR [--anchors K]",
		Short: "Start N daemons as separate processes on loopback and keep them running until interrupted",
		Long: "local starts N `mlecs node start` processes on 127.0.0.1, each with its own data dir, key,\n" +
			"config and data partition under DIR/node-I, all sharing one network key (DIR/net.psk). The\n" +
			"first K nodes are anchor-capable (with --pinned, node-0 is a pinned anchor instead), the rest\n" +
			"are edges. It prints each node's control-API address, stays in the foreground until SIGINT or\n" +
			"SIGTERM, then stops the daemons gracefully. Keys and data survive, so a rerun resumes.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return o.run(ctx, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.nodes, "nodes", 3, "number of daemons")
	f.IntVar(&o.anchors, "anchors", 1, "how many nodes are anchor-capable")
	f.BoolVar(&o.pinned, "pinned", false, "make node-0 a pinned anchor")
	f.StringVar(&o.dir, "dir", "", "directory for the nodes' data, keys, configs and logs")
	f.StringVar(&o.runID, "run-id", "testnet-local", "run id of the testnet")
	f.DurationVar(&o.heartbeat, "heartbeat", 250*time.Millisecond, "heartbeat interval")
	f.DurationVar(&o.lease, "lease", 1500*time.Millisecond, "anchor lease")
	f.DurationVar(&o.deadline, "round-deadline", 3*time.Second, "round deadline")
	f.IntVar(&o.quorum, "quorum", 0, "updates that close a round (default: half the edges, at least 1)")
	return cmd
}

func (o *options) validate() error {
	switch {
	case o.nodes < 1 || o.nodes > maxNodes:
		return fmt.Errorf("%w: --nodes must be 1..%d, got %d", ErrUsage, maxNodes, o.nodes)
	case o.anchors < 0 || o.anchors > o.nodes:
		return fmt.Errorf("%w: --anchors must be 0..--nodes (%d), got %d", ErrUsage, o.nodes, o.anchors)
	case o.anchors == 0 && !o.pinned:
		return fmt.Errorf("%w: --anchors 0 without --pinned leaves no node that can be anchor", ErrUsage)
	case o.dir == "":
		return fmt.Errorf("%w: --dir is required", ErrUsage)
	case o.quorum < 0:
		return fmt.Errorf("%w: --quorum must be >= 0", ErrUsage)
	}
	return nil
}

// modalityPlan gives nodes different modality subsets, as edges in ML-ECS hold different ones.
var modalityPlan = [][]string{{"image", "audio"}, {"audio"}, {"image"}, {"timeseries"}, {"text", "image"}}

// nodeConfig is the config of node i; boot is the bootstrap address ("" for the first node).
func (o *options) nodeConfig(i int, boot string) node.Config {
	cfg := node.DefaultConfig()
	dir := filepath.Join(o.dir, fmt.Sprintf("node-%d", i))
	cfg.DataDir = dir
	cfg.KeyFile = filepath.Join(dir, "node.key")
	cfg.PSKFile = filepath.Join(o.dir, "net.psk")
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	if boot != "" {
		cfg.Bootstrap = []string{boot}
	}
	cfg.Role = node.RoleEdge
	switch {
	case o.pinned && i == 0:
		cfg.Role = node.RoleAnchor
	case i < o.anchors:
		cfg.Role = node.RoleAnchorCapable
	}
	cfg.Modalities = modalityPlan[i%len(modalityPlan)]
	cfg.Partition = i
	cfg.APIAddr = "127.0.0.1:0"
	cfg.RunID = o.runID
	cfg.Heartbeat = node.Duration(o.heartbeat)
	cfg.Lease = node.Duration(o.lease)
	cfg.Backoff = node.Duration(o.lease / 3)
	cfg.RoundDeadline = node.Duration(o.deadline)
	cfg.Quorum = o.quorum
	if cfg.Quorum == 0 {
		cfg.Quorum = max(1, (o.nodes-1)/2)
	}
	return cfg
}

// proc is one running daemon.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	api  string
	id   string
	role node.Role
	done chan error
}

func (o *options) run(ctx context.Context, w io.Writer) error {
	exe := o.exe
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return fmt.Errorf("find own executable: %w", err)
		}
	}
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", o.dir, err)
	}
	psk := filepath.Join(o.dir, "net.psk")
	if _, err := os.Stat(psk); errors.Is(err, os.ErrNotExist) {
		if err := node.GeneratePSK(psk); err != nil {
			return err
		}
	}
	var procs []*proc
	defer func() { stopAll(procs, w) }()
	boot := ""
	for i := range o.nodes {
		p, err := o.startNode(ctx, exe, i, boot)
		if p != nil {
			procs = append(procs, p)
		}
		if err != nil {
			return err
		}
		if boot == "" {
			st, err := node.Client{Addr: p.api}.Status(ctx)
			if err != nil || len(st.ListenAddrs) == 0 {
				return fmt.Errorf("%s: no listen address: %v", p.name, err)
			}
			boot = st.ListenAddrs[0]
		}
		fmt.Fprintf(w, "%s api=%s peer=%s role=%s\n", p.name, p.api, p.id, p.role)
	}
	fmt.Fprintf(w, "testnet running: %d nodes, data in %s; interrupt to stop\n", len(procs), o.dir)
	cases := make(chan string, len(procs))
	for _, p := range procs {
		go func() {
			err := <-p.done
			p.done <- err // keep the result for stopAll
			cases <- fmt.Sprintf("%s exited: %v (log: %s)", p.name, err, p.log.Name())
		}()
	}
	select {
	case <-ctx.Done():
		fmt.Fprintln(w, "stopping testnet")
		return nil
	case msg := <-cases:
		return fmt.Errorf("testnet: %s", msg)
	}
}

// startNode writes node i's config and key, starts its process and waits for its control API.
func (o *options) startNode(ctx context.Context, exe string, i int, boot string) (*proc, error) {
	cfg := o.nodeConfig(i, boot)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", cfg.DataDir, err)
	}
	if _, err := os.Stat(cfg.KeyFile); errors.Is(err, os.ErrNotExist) {
		if _, err := node.GenerateKey(cfg.KeyFile); err != nil {
			return nil, err
		}
	}
	cfgPath := filepath.Join(cfg.DataDir, "config.json")
	if err := node.WriteConfig(cfgPath, cfg); err != nil {
		return nil, err
	}
	apiFile := filepath.Join(cfg.DataDir, "api.addr")
	_ = os.Remove(apiFile) // a stale one from a killed run would point at nothing
	logf, err := os.OpenFile(filepath.Join(cfg.DataDir, "node.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	cmd := exec.Command(exe, "node", "start", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start node-%d: %w", i, err)
	}
	p := &proc{name: fmt.Sprintf("node-%d", i), cmd: cmd, log: logf, role: cfg.Role, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(apiFile); err == nil && strings.HasSuffix(string(b), "\n") {
			p.api = strings.TrimSpace(string(b))
			break
		}
		select {
		case err := <-p.done:
			p.done <- err
			return p, fmt.Errorf("%s exited during start: %v (log: %s)", p.name, err, logf.Name())
		case <-ctx.Done():
			return p, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return p, fmt.Errorf("%s: control API not up within 30s (log: %s)", p.name, logf.Name())
		}
	}
	st, err := node.Client{Addr: p.api}.Status(ctx)
	if err != nil {
		return p, fmt.Errorf("%s: %w", p.name, err)
	}
	p.id = st.PeerID
	return p, nil
}

// stopAll sends SIGTERM to every daemon (they leave gracefully), waits, and kills stragglers.
func stopAll(procs []*proc, w io.Writer) {
	for _, p := range procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range procs {
		select {
		case err := <-p.done:
			p.done <- err
		case <-time.After(15 * time.Second):
			fmt.Fprintf(w, "%s did not stop within 15s; killing it\n", p.name)
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		p.log.Close()
	}
}
