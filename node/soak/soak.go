// Package soak measures whether a long-running mesh leaks: it samples the process's resident memory,
// goroutines and open file descriptors once per federated round and fits a least-squares slope per
// round after a warm-up, so that "flat" is a number with a threshold rather than a look at a graph.
//
// The mesh is the experiment runner's (node/experiment: real nodes on loopback running real ML-ECS);
// the sampler is plugged in as its progress writer, which the runner calls exactly once per closed
// round, so the runner needs no hook of its own.
package soak

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrSoak marks invalid input to this package (bad thresholds, too few samples).
var ErrSoak = errors.New("soak")

// Sample is the process state right after one round closed.
type Sample struct {
	Round      int
	Elapsed    time.Duration // since the sampler was created
	RSS        int64         // VmRSS: resident bytes, anonymous + file-backed (mmaps of Badger's files)
	RSSAnon    int64         // RssAnon: the Go heap, stacks and other private memory
	RSSFile    int64         // RssFile: resident pages of mapped files
	HeapLive   int64         // bytes in live and not yet swept heap objects (runtime/metrics)
	Goroutines int
	FDs        int
	DiskBytes  int64 // space allocated under the sampler's directory (the node stores), -1 if none
}

// ProcStats reads the memory fields of /proc/self/status (bytes) and counts /proc/self/fd.
func ProcStats() (s Sample, err error) {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return s, fmt.Errorf("soak: read process status: %w", err)
	}
	fields := map[string]*int64{"VmRSS:": &s.RSS, "RssAnon:": &s.RSSAnon, "RssFile:": &s.RSSFile}
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[2] != "kB" {
			continue
		}
		if p, ok := fields[f[0]]; ok {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return s, fmt.Errorf("soak: /proc/self/status %s %q: %w", f[0], f[1], err)
			}
			*p = kb << 10
			found++
		}
	}
	if found != len(fields) {
		return s, fmt.Errorf("soak: /proc/self/status: found %d of VmRSS, RssAnon, RssFile", found)
	}
	// The directory handle used to list /proc/self/fd is itself one of the entries; it is not counted.
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return s, fmt.Errorf("soak: list open files: %w", err)
	}
	s.FDs = len(ents) - 1
	s.Goroutines = runtime.NumGoroutine()
	m := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(m)
	if m[0].Value.Kind() == metrics.KindUint64 {
		s.HeapLive = int64(m[0].Value.Uint64())
	}
	return s, nil
}

// roundLine matches the runner's per-round progress line ("mlecs seed 1 round 7/200: ...").
var roundLine = regexp.MustCompile(` round (\d+)/\d+:`)

// Sampler is an io.Writer for the experiment runner's progress: every line that reports a closed
// round takes one Sample. Other lines (pretraining) are ignored. Safe for concurrent use.
type Sampler struct {
	dir     string
	mu      sync.Mutex
	start   time.Time
	partial []byte
	samples []Sample
	err     error
	onLine  func(Sample)
}

// NewSampler returns a sampler. When diskDir is not empty each sample also measures the space allocated
// under it; onSample (optional) sees each sample as it is taken.
func NewSampler(diskDir string, onSample func(Sample)) *Sampler {
	return &Sampler{dir: diskDir, start: time.Now(), onLine: onSample}
}

// DiskUsage returns the bytes allocated to the files under dir (st_blocks, so sparse files such as
// Badger's preallocated logs count what they really use). Files that vanish during the walk are skipped.
func DiskUsage(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			n += st.Blocks * 512
		} else if fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("soak: disk usage of %s: %w", dir, err)
	}
	return n, nil
}

// Write takes one sample per complete round line in p. A failure to read /proc is kept for Err
// and does not fail the run that writes progress.
func (s *Sampler) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		line := string(s.partial[:i])
		s.partial = s.partial[i+1:]
		m := roundLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		round, _ := strconv.Atoi(m[1])
		smp, err := ProcStats()
		if err != nil {
			s.err = errors.Join(s.err, err)
			continue
		}
		smp.Round, smp.Elapsed, smp.DiskBytes = round, time.Since(s.start), -1
		if s.dir != "" {
			if smp.DiskBytes, err = DiskUsage(s.dir); err != nil {
				s.err = errors.Join(s.err, err)
			}
		}
		s.samples = append(s.samples, smp)
		if s.onLine != nil {
			s.onLine(smp)
		}
	}
	return len(p), nil
}

// Samples returns a copy of the samples taken so far.
func (s *Sampler) Samples() []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sample(nil), s.samples...)
}

// Err reports failures to read the process state.
func (s *Sampler) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
