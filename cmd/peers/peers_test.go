package peers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mlecs/mlecs/node"
)

type fakeClient struct {
	ps  []node.PeerInfo
	err error
}

func (f fakeClient) Peers(context.Context) ([]node.PeerInfo, error) { return f.ps, f.err }

func TestPeers(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ps := []node.PeerInfo{
		{PeerID: "12D3KooWA", Addrs: []string{"/ip4/127.0.0.1/tcp/1", "/ip4/127.0.0.1/tcp/2"}, Role: node.RoleAnchor,
			Modalities: []string{"image", "audio"}, LastSeen: now.Add(-1500 * time.Millisecond).Format(time.RFC3339Nano),
			LatencyMS: 0.42, Score: 1.5, BytesIn: 2048, BytesOut: 10},
		{PeerID: "12D3KooWB", Modalities: []string{}},
	}
	boom := errors.New("refused")
	tests := []struct {
		name    string
		json    bool
		client  fakeClient
		want    []string
		wantErr error
	}{
		{"table", false, fakeClient{ps: ps}, []string{"PEER ID", "12D3KooWA", "/ip4/127.0.0.1/tcp/1 (+1)", "anchor", "image,audio",
			"0.4ms", "1.50", "1.5s ago", "2.0KiB", "10B", "12D3KooWB", "never"}, nil},
		{"json", true, fakeClient{ps: ps}, []string{`"peer_id": "12D3KooWA"`, `"addrs"`, `"role": "anchor"`, `"modalities"`, `"last_seen"`}, nil},
		{"json empty is a list", true, fakeClient{}, []string{"[]"}, nil},
		{"error", false, fakeClient{err: boom}, nil, boom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := options{json: tc.json, now: func() time.Time { return now }, client: func(string) peersClient { return tc.client }}
			var out bytes.Buffer
			err := o.run(context.Background(), &out)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if tc.json {
				var back []node.PeerInfo
				if err := json.Unmarshal(out.Bytes(), &back); err != nil {
					t.Fatalf("json: %v", err)
				}
			}
		})
	}
}
