package node

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryLimitShare is the part of a cgroup memory limit given to the Go runtime as its soft limit. The
// rest is headroom for what the runtime does not count: mapped store files (Badger's tables and
// write-ahead logs) and the kernel's page cache charged to the cgroup.
const memoryLimitShare = 0.8

// cgroupUnlimited: cgroup v1 reports "no limit" as a page-rounded huge number.
const cgroupUnlimited = int64(1) << 60

// applyMemoryLimit sets the Go runtime's soft memory limit to memoryLimitShare of the cgroup memory
// limit the daemon runs under, unless GOMEMLIMIT is set. Without it the collector lets the heap grow to
// twice its live size before collecting, and the transient buffers of a training round and a checkpoint
// save can push a small device's process past its limit (the OOM killer's SIGKILL), although the live
// heap fits. It returns the limit set (0: none).
func applyMemoryLimit(log *slog.Logger, cgroupRoot string) int64 {
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		log.Info("memory limit from GOMEMLIMIT", "GOMEMLIMIT", v)
		return 0
	}
	limit, err := cgroupMemoryLimit(cgroupRoot)
	if err != nil {
		log.Warn("cgroup memory limit unreadable; the Go runtime runs without a soft limit", "err", err)
		return 0
	}
	if limit == 0 {
		return 0
	}
	soft := int64(float64(limit) * memoryLimitShare)
	debug.SetMemoryLimit(soft)
	log.Info("memory limit from the cgroup", "cgroup_bytes", limit, "go_soft_limit_bytes", soft)
	return soft
}

// cgroupMemoryLimit reads the memory limit of the process's cgroup under root (normally
// /sys/fs/cgroup): cgroup v2's memory.max, else v1's memory/memory.limit_in_bytes. It returns 0 when
// there is no limit or no cgroup memory controller.
func cgroupMemoryLimit(root string) (int64, error) {
	for _, f := range []string{"memory.max", filepath.Join("memory", "memory.limit_in_bytes")} {
		path := filepath.Join(root, f)
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", path, err)
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0, nil
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v <= 0 {
			return 0, fmt.Errorf("%s: %q is not a positive byte count or \"max\"", path, s)
		}
		if v >= cgroupUnlimited {
			return 0, nil
		}
		return v, nil
	}
	return 0, nil
}
