package mesh

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/mlecs/mlecs/mesh/wire"
)

// discardSink verifies like any sink (Fetch hashes the stream) but keeps
// nothing, so the benchmark measures the protocol, not memory copies.
type discardSink struct{ n int64 }

func (s *discardSink) Write(p []byte) (int, error)       { s.n += int64(len(p)); return len(p), nil }
func (s *discardSink) ReadAt([]byte, int64) (int, error) { return 0, io.EOF }
func (s *discardSink) Size() int64                       { return 0 }
func (s *discardSink) Commit() error                     { return nil }
func (s *discardSink) Discard() error                    { return nil }

// BenchmarkBlobTransfer fetches a 32 MiB blob over the blob protocol (PSK,
// Noise, yamux, SHA-256 verification) and reports its throughput as a
// fraction of plain loopback TCP moving the same bytes in the same run.
func BenchmarkBlobTransfer(b *testing.B) {
	const size = 32 << 20
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	data := randomBlob(size)
	h := sha256.Sum256(data)
	src := BlobSourceFunc(func(context.Context, Hash) (io.ReadSeekCloser, int64, error) {
		return nopCloser{bytes.NewReader(data)}, size, nil
	})
	sender := newTestHost(b, ctx, WithBlobSource(src))
	receiver := newTestHost(b, ctx)
	if err := receiver.Connect(ctx, addrInfo(sender)); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ResetTimer()
	start := time.Now()
	iters := 0
	for b.Loop() {
		if _, err := receiver.Fetch(ctx, sender.ID(), h, size, &discardSink{}); err != nil {
			b.Fatal(err)
		}
		iters++
	}
	blobRate := float64(iters) * size / time.Since(start).Seconds()
	b.StopTimer()
	tcpRate := tcpLoopbackRate(b, data, max(iters, 3))
	rawRate := rawStreamRate(b, ctx, sender, receiver, data, max(iters, 3))
	b.ReportMetric(blobRate/1e6, "blob-MB/s")
	b.ReportMetric(tcpRate/1e6, "tcp-MB/s")
	b.ReportMetric(blobRate/tcpRate, "tcp-ratio")
	// Against a bare stream over the same PSK+Noise+yamux connection: the
	// cost of our framing, limits and SHA-256 verification alone.
	b.ReportMetric(blobRate/rawRate, "libp2p-ratio")
	b.ReportMetric(rawRate/1e6, "libp2p-MB/s")
	// SHA-256 alone on one core: the verification the storage layer's
	// content addressing requires, and a ceiling on blob-MB/s.
	start = time.Now()
	for range 3 {
		_ = sha256.Sum256(data)
	}
	b.ReportMetric(3*size/time.Since(start).Seconds()/1e6, "sha256-MB/s")
}

// rawStreamRate moves data over a bare libp2p stream between the hosts.
func rawStreamRate(b *testing.B, ctx context.Context, sender, receiver *Host, data []byte, n int) float64 {
	const proto = "/mlecs/bench-raw/1.0.0"
	sender.Libp2p().SetStreamHandler(proto, func(s network.Stream) {
		_, _ = s.Write(data)
		_ = s.Close()
	})
	defer sender.Libp2p().RemoveStreamHandler(proto)
	start := time.Now()
	for range n {
		s, err := receiver.Libp2p().NewStream(ctx, sender.ID(), proto)
		if err != nil {
			b.Fatal(err)
		}
		if m, err := io.Copy(io.Discard, s); err != nil || m != int64(len(data)) {
			b.Fatalf("raw stream: %d bytes, %v", m, err)
		}
		_ = s.Close()
	}
	return float64(n) * float64(len(data)) / time.Since(start).Seconds()
}

// tcpLoopbackRate moves data over a plain loopback TCP connection n times.
func tcpLoopbackRate(b *testing.B, data []byte, n int) float64 {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	start := time.Now()
	for range n {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Write(data); err != nil {
			b.Fatal(err)
		}
		_ = c.(*net.TCPConn).CloseWrite()
		_, _ = c.Read(make([]byte, 1)) // wait for the reader to finish
		c.Close()
	}
	return float64(n) * float64(len(data)) / time.Since(start).Seconds()
}

// BenchmarkControlMessageWireBytes publishes heartbeats with a 64-byte
// body from one host to another and reports the stream bytes gossipsub
// spends per message (protobuf framing, signature, gossip control) next
// to the envelope size itself.
func BenchmarkControlMessageWireBytes(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pub := newTestHost(b, ctx)
	sub := newTestHost(b, ctx)
	if err := sub.Connect(ctx, addrInfo(pub)); err != nil {
		b.Fatal(err)
	}
	msgs, stop, err := sub.Subscribe(wire.KindHeartbeat)
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	if err := pub.WaitTopicPeers(ctx, wire.KindHeartbeat, 1); err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte{7}, 64)
	// libp2p's byte counters are swept once a second: let them settle.
	settle := func() int64 {
		time.Sleep(2500 * time.Millisecond)
		return pub.bw.GetBandwidthForProtocol(GossipProtocol).TotalOut
	}
	before := settle()
	b.ResetTimer()
	var envBytes int
	n := 0
	for b.Loop() {
		env := &wire.Envelope{Kind: wire.KindHeartbeat, Term: 3, Round: 9, Body: body}
		if err := pub.Publish(ctx, env); err != nil {
			b.Fatal(err)
		}
		select {
		case m := <-msgs:
			envBytes = m.Size
		case <-ctx.Done():
			b.Fatal("message lost")
		}
		n++
	}
	b.StopTimer()
	after := settle()
	b.ReportMetric(float64(after-before)/float64(n), "wire-bytes/msg")
	b.ReportMetric(float64(envBytes), "envelope-bytes")
}
