package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// DefaultAPIAddr is the control API address used when neither a config nor --api names one.
const DefaultAPIAddr = "127.0.0.1:7700"

// ErrAPI is wrapped by every control API client error.
var ErrAPI = errors.New("control api")

// maxAPIResponse bounds a control API response body.
const maxAPIResponse = 8 << 20

// Client talks to a running daemon's control API.
type Client struct {
	Addr string       // host:port of the control API
	HTTP *http.Client // nil means a client with a 5 s timeout
}

// Status fetches GET /v1/status.
func (c Client) Status(ctx context.Context) (Status, error) {
	var s Status
	err := c.get(ctx, "/v1/status", &s)
	return s, err
}

// Peers fetches GET /v1/peers.
func (c Client) Peers(ctx context.Context) ([]PeerInfo, error) {
	var p []PeerInfo
	err := c.get(ctx, "/v1/peers", &p)
	return p, err
}

func (c Client) get(ctx context.Context, path string, out any) error {
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	addr := c.Addr
	if addr == "" {
		addr = DefaultAPIAddr
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, addr+path, nil)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrAPI, path, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w: is the daemon running? %w", ErrAPI, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIResponse))
	if err != nil {
		return fmt.Errorf("%w: %s: read: %w", ErrAPI, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s: HTTP %d: %s", ErrAPI, path, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%w: %s: decode: %w", ErrAPI, path, err)
	}
	return nil
}
