package mesh

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/mlecs/mlecs/mesh/wire"
)

// memSource serves blobs from memory; cut > 0 makes the next opened reader
// fail after that many bytes (one interruption), and offsets records the
// offsets requested.
type memSource struct {
	mu      sync.Mutex
	blobs   map[Hash][]byte
	cut     int
	offsets []int64
}

type failingReader struct {
	io.ReadSeeker
	left int
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, errors.New("disk on fire")
	}
	if len(p) > r.left {
		p = p[:r.left]
	}
	n, err := r.ReadSeeker.Read(p)
	r.left -= n
	return n, err
}

type seekRecorder struct {
	io.ReadSeeker
	src *memSource
}

func (r seekRecorder) Seek(off int64, whence int) (int64, error) {
	r.src.mu.Lock()
	r.src.offsets = append(r.src.offsets, off)
	r.src.mu.Unlock()
	return r.ReadSeeker.Seek(off, whence)
}

func (s *memSource) OpenBlob(_ context.Context, h Hash) (io.ReadSeekCloser, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.blobs[h]
	if !ok {
		return nil, 0, ErrBlobNotFound
	}
	var rs io.ReadSeeker = bytes.NewReader(b)
	if s.cut > 0 {
		rs = &failingReader{ReadSeeker: rs, left: s.cut}
		s.cut = 0
	}
	return nopCloser{seekRecorder{rs, s}}, int64(len(b)), nil
}

type nopCloser struct{ io.ReadSeeker }

func (nopCloser) Close() error { return nil }

func randomBlob(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(n), 7))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func blobPair(t *testing.T, ctx context.Context, src BlobSource) (sender, receiver *Host) {
	t.Helper()
	sender = newTestHost(t, ctx, WithBlobSource(src))
	receiver = newTestHost(t, ctx)
	if err := receiver.Connect(ctx, addrInfo(sender)); err != nil {
		t.Fatal(err)
	}
	return sender, receiver
}

func TestBlobFetchAndResume(t *testing.T) {
	ctx := timeout(t, 30*time.Second)
	data := randomBlob(3<<20 + 12345)
	h := sha256.Sum256(data)
	src := &memSource{blobs: map[Hash][]byte{h: data}, cut: 1<<20 + 77}
	sender, receiver := blobPair(t, ctx, src)

	sink := &MemorySink{}
	_, err := receiver.Fetch(ctx, sender.ID(), h, int64(len(data)), sink)
	if err == nil {
		t.Fatal("first fetch should fail: the source broke mid-way")
	}
	got := sink.Size()
	if got == 0 || got >= int64(len(data)) || sink.Bytes() != nil {
		t.Fatalf("after interruption the sink holds %d bytes (committed=%v)", got, sink.Bytes() != nil)
	}
	n, err := receiver.Fetch(ctx, sender.ID(), h, int64(len(data)), sink)
	if err != nil {
		t.Fatalf("resumed fetch: %v", err)
	}
	if n != int64(len(data)) || !bytes.Equal(sink.Bytes(), data) {
		t.Fatalf("resumed blob differs (n=%d)", n)
	}
	src.mu.Lock()
	offsets := append([]int64(nil), src.offsets...)
	src.mu.Unlock()
	if len(offsets) != 2 || offsets[0] != 0 || offsets[1] != got {
		t.Fatalf("requested offsets %v, want [0 %d]", offsets, got)
	}
	info, _ := receiver.Peer(sender.ID())
	if info.BlobBytesIn != int64(len(data)) {
		t.Fatalf("blob bytes in = %d, want %d", info.BlobBytesIn, len(data))
	}
	sinfo, _ := sender.Peer(receiver.ID())
	// The sender counts what it wrote, including frames lost to the reset.
	if sinfo.BlobBytesOut < int64(len(data)) {
		t.Fatalf("blob bytes out = %d, want >= %d", sinfo.BlobBytesOut, len(data))
	}
}

func TestBlobFileSinkResumesAcrossSinks(t *testing.T) {
	ctx := timeout(t, 30*time.Second)
	data := randomBlob(1<<20 + 3)
	h := sha256.Sum256(data)
	src := &memSource{blobs: map[Hash][]byte{h: data}, cut: 300_000}
	sender, receiver := blobPair(t, ctx, src)
	path := filepath.Join(t.TempDir(), "blob")
	sink, err := NewFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := receiver.Fetch(ctx, sender.ID(), h, 2<<20, sink); err == nil {
		t.Fatal("interrupted fetch succeeded")
	}
	sink.Close() // as if the process restarted
	sink, err = NewFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	if sink.Size() == 0 {
		t.Fatal("staged bytes lost")
	}
	if _, err := receiver.Fetch(ctx, sender.ID(), h, 2<<20, sink); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("committed file differs: %v", err)
	}
}

func TestBlobWrongHashRejected(t *testing.T) {
	ctx := timeout(t, 20*time.Second)
	want := sha256.Sum256([]byte("the real blob"))
	src := &memSource{blobs: map[Hash][]byte{want: []byte("some other bytes")}}
	sender, receiver := blobPair(t, ctx, src)
	sink := &MemorySink{}
	_, err := receiver.Fetch(ctx, sender.ID(), want, 1<<10, sink)
	if !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("err = %v, want ErrHashMismatch", err)
	}
	if sink.Size() != 0 || sink.Bytes() != nil {
		t.Fatalf("sink kept %d bytes after a mismatch", sink.Size())
	}
}

func TestBlobNotFoundAndTooLarge(t *testing.T) {
	ctx := timeout(t, 20*time.Second)
	data := randomBlob(5000)
	h := sha256.Sum256(data)
	sender, receiver := blobPair(t, ctx, &memSource{blobs: map[Hash][]byte{h: data}})
	if _, err := receiver.Fetch(ctx, sender.ID(), Hash{1}, 1<<20, &MemorySink{}); !errors.Is(err, ErrBlobNotFound) {
		t.Fatalf("missing blob: %v", err)
	}
	sink := &MemorySink{}
	if _, err := receiver.Fetch(ctx, sender.ID(), h, 4999, sink); !errors.Is(err, ErrBlobTooLarge) {
		t.Fatalf("oversized blob: %v", err)
	}
	if sink.Size() != 0 {
		t.Fatalf("oversized blob buffered %d bytes", sink.Size())
	}
}

// A lying sender that ignores the requested cap is refused on its header,
// before any payload is buffered; one that sends past its announced size
// is cut off.
func TestBlobMisbehavingSender(t *testing.T) {
	ctx := timeout(t, 20*time.Second)
	sender, receiver := blobPair(t, ctx, nil)
	var announce, send atomic.Uint64 // the handler of an earlier fetch may still run
	sender.Libp2p().SetStreamHandler(BlobProtocol, func(s network.Stream) {
		defer s.Close()
		var rb [wire.BlobRequestSize]byte
		if _, err := io.ReadFull(s, rb[:]); err != nil {
			return
		}
		hdr := wire.BlobHeader{Status: wire.BlobOK, Size: announce.Load()}
		_, _ = s.Write(hdr.Encode(nil))
		n := int(send.Load())
		frame := make([]byte, wire.FrameHeaderSize+n)
		wire.PutFrameHeader(frame, n)
		_, _ = s.Write(frame)
	})
	announce.Store(64 << 20)
	send.Store(1 << 20)
	sink := &MemorySink{}
	if _, err := receiver.Fetch(ctx, sender.ID(), Hash{2}, 1<<20, sink); !errors.Is(err, ErrBlobTooLarge) {
		t.Fatalf("over-cap announcement: %v", err)
	}
	if sink.Size() != 0 {
		t.Fatalf("buffered %d bytes of an oversized blob", sink.Size())
	}
	announce.Store(100)
	send.Store(5000)
	if _, err := receiver.Fetch(ctx, sender.ID(), Hash{2}, 1<<20, sink); !errors.Is(err, ErrBlobProtocol) {
		t.Fatalf("frame past announced size: %v", err)
	}
	if sink.Size() != 0 {
		t.Fatalf("buffered %d bytes of an over-long frame", sink.Size())
	}
}

func TestBlobContextCancel(t *testing.T) {
	ctx := timeout(t, 20*time.Second)
	sender, receiver := blobPair(t, ctx, nil)
	sender.Libp2p().SetStreamHandler(BlobProtocol, func(s network.Stream) {
		<-ctx.Done() // never answers
		_ = s.Reset()
	})
	fctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := receiver.Fetch(fctx, sender.ID(), Hash{3}, 10, &MemorySink{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("cancel took %v", d)
	}
}

// The resource manager caps concurrent blob streams per peer: with a cap
// of one, a second transfer from the same peer is refused while the first
// is in flight, and works again once it is done.
func TestBlobPerPeerStreamLimit(t *testing.T) {
	ctx := timeout(t, 20*time.Second)
	data := randomBlob(1000)
	h := sha256.Sum256(data)
	opened := make(chan struct{}, 4)
	release := make(chan struct{})
	src := BlobSourceFunc(func(ctx context.Context, _ Hash) (io.ReadSeekCloser, int64, error) {
		opened <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nopCloser{bytes.NewReader(data)}, int64(len(data)), nil
	})
	limits := DefaultResourceLimits()
	limits.MaxBlobStreamsPerPeer = 1
	sender := newTestHost(t, ctx, WithBlobSource(src), WithResourceLimits(limits))
	receiver := newTestHost(t, ctx)
	if err := receiver.Connect(ctx, addrInfo(sender)); err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() {
		_, err := receiver.Fetch(ctx, sender.ID(), h, 1<<20, &MemorySink{})
		first <- err
	}()
	<-opened
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := receiver.Fetch(fctx, sender.ID(), h, 1<<20, &MemorySink{}); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second concurrent fetch: %v, want a prompt refusal", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first fetch: %v", err)
	}
	if _, err := receiver.Fetch(ctx, sender.ID(), h, 1<<20, &MemorySink{}); err != nil {
		t.Fatalf("fetch after the first finished: %v", err)
	}
}
