package testnet

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlecs/mlecs/node"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		o    options
		ok   bool
	}{
		{"ok", options{nodes: 5, anchors: 2, dir: "d"}, true},
		{"pinned only", options{nodes: 2, anchors: 0, pinned: true, dir: "d"}, true},
		{"no nodes", options{nodes: 0, anchors: 0, dir: "d"}, false},
		{"too many", options{nodes: maxNodes + 1, anchors: 1, dir: "d"}, false},
		{"anchors > nodes", options{nodes: 2, anchors: 3, dir: "d"}, false},
		{"nobody can anchor", options{nodes: 2, anchors: 0, dir: "d"}, false},
		{"no dir", options{nodes: 2, anchors: 1}, false},
		{"negative quorum", options{nodes: 2, anchors: 1, dir: "d", quorum: -1}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.validate()
			if tc.ok != (err == nil) {
				t.Fatalf("validate: %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrUsage) {
				t.Fatalf("error %v does not wrap ErrUsage", err)
			}
		})
	}
}

func TestNodeConfig(t *testing.T) {
	o := options{nodes: 5, anchors: 2, pinned: true, dir: "/tmp/tn", runID: "r", heartbeat: 200 * time.Millisecond,
		lease: time.Second, deadline: time.Second}
	wantRoles := []node.Role{node.RoleAnchor, node.RoleAnchorCapable, node.RoleEdge, node.RoleEdge, node.RoleEdge}
	for i, want := range wantRoles {
		boot := ""
		if i > 0 {
			boot = "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWECMTDouF1crJ6QCTDArhqSE6TLcXTgc4uuPaXm8PRzHD"
		}
		c := o.nodeConfig(i, boot)
		if err := c.Validate(); err != nil {
			t.Fatalf("node %d: invalid config: %v", i, err)
		}
		if c.Role != want || c.Partition != i || c.Quorum != 2 || len(c.Modalities) == 0 {
			t.Errorf("node %d: role %s partition %d quorum %d modalities %v", i, c.Role, c.Partition, c.Quorum, c.Modalities)
		}
		if c.DataDir != filepath.Join("/tmp/tn", fmt.Sprintf("node-%d", i)) || c.PSKFile != "/tmp/tn/net.psk" {
			t.Errorf("node %d: paths %s %s", i, c.DataDir, c.PSKFile)
		}
	}
}

// TestLocalMultiProcess builds the binary, runs `mlecs testnet local --nodes 5`, and checks through the
// CLI that every node lists the other four and that all agree on one anchor.
func TestLocalMultiProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process testnet: skipped with -short")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "mlecs")
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	build := exec.Command(gobin, "build", "-o", bin, "github.com/mlecs/mlecs/cmd/mlecs")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tn := exec.Command(bin, "testnet", "local", "--nodes", "5", "--anchors", "2", "--dir", filepath.Join(dir, "tn"))
	stdout, pw := io.Pipe()
	tn.Stdout, tn.Stderr = pw, os.Stderr
	if err := tn.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() {
		err := tn.Wait()
		pw.Close()
		exited <- err
	}()
	stopped := false
	defer func() {
		if !stopped {
			_ = tn.Process.Signal(syscall.SIGTERM)
			<-exited
		}
	}()

	lines := make(chan string, 256) // the testnet prints a handful of lines; never blocks
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var apis, ids []string
	for len(apis) < 5 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("testnet output ended after %d nodes", len(apis))
			}
			t.Log(l)
			var name, api, id, role string
			if _, err := fmt.Sscanf(l, "%s api=%s peer=%s role=%s", &name, &api, &id, &role); err == nil {
				apis, ids = append(apis, api), append(ids, id)
			}
		case <-ctx.Done():
			t.Fatalf("testnet did not print 5 control-API addresses: %v", ctx.Err())
		}
	}

	cli := func(args ...string) []byte {
		out, err := exec.CommandContext(ctx, bin, args...).Output()
		if err != nil {
			t.Fatalf("mlecs %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	start := time.Now()
	for {
		problem := ""
		anchors := map[string]bool{}
		for i, api := range apis {
			var ps []node.PeerInfo
			if err := json.Unmarshal(cli("peers", "--api", api, "--json"), &ps); err != nil {
				t.Fatalf("peers --json: %v", err)
			}
			heard := map[string]bool{}
			for _, p := range ps {
				if p.Role != "" && p.LastSeen != "" && len(p.Addrs) > 0 {
					heard[p.PeerID] = true
				}
			}
			for j, id := range ids {
				if j != i && !heard[id] {
					problem = fmt.Sprintf("node-%d does not list node-%d", i, j)
				}
			}
			var st node.Status
			if err := json.Unmarshal(cli("status", "--api", api, "--json"), &st); err != nil {
				t.Fatalf("status --json: %v", err)
			}
			if st.PeerID != ids[i] || st.PID <= 0 {
				t.Fatalf("node-%d status: %+v", i, st)
			}
			anchors[st.Anchor] = true
		}
		if len(anchors) != 1 || anchors[""] {
			problem = fmt.Sprintf("anchors reported: %v", anchors)
		}
		if problem == "" {
			t.Logf("5 processes: full peer lists and one anchor after %v", time.Since(start).Round(time.Millisecond))
			break
		}
		if ctx.Err() != nil || time.Since(start) > 45*time.Second {
			t.Fatalf("no agreement within 45s: %s", problem)
		}
		time.Sleep(300 * time.Millisecond)
	}

	if err := tn.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	stopped = true
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("testnet exit: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("testnet did not stop within 30s of SIGINT")
	}
	for l := range lines {
		t.Log(l)
	}
	for i, api := range apis {
		if _, err := (node.Client{Addr: api}).Status(context.Background()); err == nil {
			t.Errorf("node-%d still answers after the testnet stopped", i)
		}
	}
}
