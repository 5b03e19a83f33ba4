package status

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/mlecs/mlecs/node"
)

type fakeClient struct {
	s   node.Status
	err error
}

func (f fakeClient) Status(context.Context) (node.Status, error) { return f.s, f.err }

func TestStatus(t *testing.T) {
	st := node.Status{PeerID: "12D3KooWA", PID: 42, Role: node.RoleAnchorCapable, Anchor: "12D3KooWA", Term: 3, Round: 7,
		Phase: node.PhaseCollecting, RunID: "r1", ListenAddrs: []string{"/ip4/127.0.0.1/tcp/1/p2p/12D3KooWA"}, PeakRSS: 48 << 20, PeakAnon: 30 << 20}
	boom := errors.New("connection refused")
	tests := []struct {
		name    string
		json    bool
		client  fakeClient
		want    []string
		wantErr error
	}{
		{"table", false, fakeClient{s: st}, []string{"12D3KooWA (this node)", "anchor-capable", "term:", "anchor-collecting", "/ip4/127.0.0.1/tcp/1", "peak rss:", "48.0 MiB", "peak anon rss:", "30.0 MiB"}, nil},
		{"json", true, fakeClient{s: st}, []string{`"peer_id": "12D3KooWA"`, `"pid": 42`, `"term": 3`, `"round": 7`, `"peak_rss_bytes": 50331648`, `"peak_anon_rss_bytes": 31457280`}, nil},
		{"no anchor", false, fakeClient{s: node.Status{PeerID: "x"}}, []string{"(none)", "peak rss:", "(unknown)"}, nil},
		{"error", false, fakeClient{err: boom}, nil, boom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := options{api: "127.0.0.1:1", json: tc.json, client: func(string) statusClient { return tc.client }}
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
				var back node.Status
				if err := json.Unmarshal(out.Bytes(), &back); err != nil || back.PeerID != st.PeerID {
					t.Fatalf("json does not round-trip: %v %+v", err, back)
				}
			}
		})
	}
}
