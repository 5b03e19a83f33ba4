package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Status is the JSON of GET /v1/status. Field names are a fixed contract (DESIGN.md section 6).
type Status struct {
	PeerID      string   `json:"peer_id"`
	PID         int      `json:"pid"`
	Role        Role     `json:"role"`
	Anchor      string   `json:"anchor"` // peer id of the current anchor, "" when none
	Term        uint64   `json:"term"`
	Round       uint64   `json:"round"` // newest global round held locally
	Phase       Phase    `json:"phase"`
	Global      string   `json:"global,omitempty"` // hash of the newest global model held
	RunID       string   `json:"run_id"`
	ListenAddrs []string `json:"listen_addrs"` // full multiaddrs, ending in /p2p/PEER_ID
	Modalities  []string `json:"modalities"`
	UptimeS     float64  `json:"uptime_s"`
	StartedAt   string   `json:"started_at"`          // RFC 3339
	PeakRSS     int64    `json:"peak_rss_bytes"`      // the process's peak resident set (VmHWM); 0 where unknown
	PeakAnon    int64    `json:"peak_anon_rss_bytes"` // peak anonymous resident memory (RssAnon, sampled every heartbeat)
}

// PeerInfo is one element of GET /v1/peers. Field names are a fixed contract (DESIGN.md section 6).
type PeerInfo struct {
	PeerID     string   `json:"peer_id"`
	Addrs      []string `json:"addrs"`
	Role       Role     `json:"role"`       // "" until the peer's first heartbeat
	Modalities []string `json:"modalities"` // as advertised in heartbeats
	LastSeen   string   `json:"last_seen"`  // RFC 3339 time of the last heartbeat, "" if never
	LatencyMS  float64  `json:"latency_ms"`
	Score      float64  `json:"score"`
	BytesIn    int64    `json:"bytes_in"`
	BytesOut   int64    `json:"bytes_out"`
	Connected  bool     `json:"connected"`
	Term       uint64   `json:"term"` // the peer's term in its last heartbeat
}

// apiSource is what the control API reads; *Node implements it.
type apiSource interface {
	Status() Status
	Peers() []PeerInfo
}

// NewAPIHandler serves the control API: /v1/status, /v1/peers and, when reg is not nil, /metrics.
func NewAPIHandler(src apiSource, reg *prometheus.Registry, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, log, src.Status())
	})
	mux.HandleFunc("GET /v1/peers", func(w http.ResponseWriter, _ *http.Request) {
		p := src.Peers()
		if p == nil {
			p = []PeerInfo{}
		}
		writeJSON(w, log, p)
	})
	if reg != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	}
	return mux
}

func writeJSON(w http.ResponseWriter, log *slog.Logger, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		log.Warn("control api: write response", "err", err)
	}
}

// apiServer is the running control API.
type apiServer struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
}

// startAPI listens on addr (which Config.Validate has checked is loopback) and serves h.
func startAPI(addr string, h http.Handler) (*apiServer, error) {
	if err := checkLoopback(addr); err != nil {
		return nil, fmt.Errorf("control api: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("control api: listen %s: %w", addr, err)
	}
	s := &apiServer{
		srv:  &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second},
		ln:   ln,
		done: make(chan error, 1),
	}
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	return s, nil
}

// Addr is the bound address (useful with port 0).
func (s *apiServer) Addr() string { return s.ln.Addr().String() }

func (s *apiServer) close(ctx context.Context) error {
	if err := s.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("control api: shutdown: %w", err)
	}
	return <-s.done
}
