package storage

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkCheckpoint saves and loads a 16 MiB checkpoint (4 tensors of 1M float32) and,
// in the same iterations, writes (with fsync) and reads a plain file of the same encoded
// bytes, and hashes them once (SHA-256 verification bounds both save and load). It reports
// each throughput and the store/file ratios:
//
//	save/file = store save MB/s  / file write+fsync MB/s
//	load/file = store load MB/s (verified) / file read MB/s
func BenchmarkCheckpoint(b *testing.B) {
	dir := b.TempDir()
	s := openDisk(b, filepath.Join(dir, "db"))
	ctx := b.Context()
	cp := testCheckpoint("edge", 1, 0, 1, 1<<20, 1<<20, 1<<20, 1<<20)
	var raw []byte
	for _, t := range cp.Tensors {
		e, err := EncodeTensor(t)
		if err != nil {
			b.Fatal(err)
		}
		raw = append(raw, e...)
	}
	path := filepath.Join(dir, "plain.bin")
	var save, load, fwrite, fread, hash time.Duration
	n := 0
	b.SetBytes(int64(len(raw)))
	b.ResetTimer()
	for b.Loop() {
		n++
		cp.Round = uint64(n)
		t0 := time.Now()
		if err := s.SaveCheckpoint(ctx, cp); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := s.LatestCheckpoint(ctx, "edge"); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if err := writeSynced(path, raw); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		if _, err := os.ReadFile(path); err != nil {
			b.Fatal(err)
		}
		t4 := time.Now()
		HashBytes(raw) // the verification cost floor: one SHA-256 pass over the bytes
		t5 := time.Now()
		save, load, fwrite, fread = save+t1.Sub(t0), load+t2.Sub(t1), fwrite+t3.Sub(t2), fread+t4.Sub(t3)
		hash += t5.Sub(t4)
		b.StopTimer()
		if _, err := s.Prune(ctx, "edge", 2); err != nil { // keep the disk bounded
			b.Fatal(err)
		}
		b.StartTimer()
	}
	mb := func(d time.Duration) float64 { return float64(n) * float64(len(raw)) / 1e6 / d.Seconds() }
	b.ReportMetric(mb(save), "save_MB/s")
	b.ReportMetric(mb(load), "load_MB/s")
	b.ReportMetric(mb(fwrite), "file_write_MB/s")
	b.ReportMetric(mb(fread), "file_read_MB/s")
	b.ReportMetric(mb(hash), "sha256_MB/s")
	b.ReportMetric(mb(save)/mb(fwrite), "save/file")
	b.ReportMetric(mb(load)/mb(fread), "load/file")
}

func writeSynced(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// BenchmarkBlob streams a 16 MiB blob in and reads it back verified (chunk hashes plus the
// whole-blob hash), against a plain file write+fsync and read of the same bytes.
func BenchmarkBlob(b *testing.B) {
	const size = 16 << 20
	dir := b.TempDir()
	s := openDisk(b, filepath.Join(dir, "db"))
	ctx := b.Context()
	raw := genBytes(1, size)
	path := filepath.Join(dir, "plain.bin")
	var put, get, fwrite, fread time.Duration
	n := 0
	b.SetBytes(size)
	for b.Loop() {
		n++
		raw[0] = byte(n) // a new blob each time, not a dedup hit
		t0 := time.Now()
		h, err := s.PutBlobBytes(ctx, raw)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := s.ReadBlob(ctx, h); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if err := writeSynced(path, raw); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		if _, err := os.ReadFile(path); err != nil {
			b.Fatal(err)
		}
		t4 := time.Now()
		put, get, fwrite, fread = put+t1.Sub(t0), get+t2.Sub(t1), fwrite+t3.Sub(t2), fread+t4.Sub(t3)
		b.StopTimer()
		if err := s.DeleteBlob(ctx, h); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	mb := func(d time.Duration) float64 { return float64(n) * size / 1e6 / d.Seconds() }
	b.ReportMetric(mb(put), "put_MB/s")
	b.ReportMetric(mb(get), "read_MB/s")
	b.ReportMetric(mb(put)/mb(fwrite), "put/file")
	b.ReportMetric(mb(get)/mb(fread), "read/file")
}
