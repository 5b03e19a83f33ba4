package federated

import (
	"bytes"
	"context"
	"fmt"

	"github.com/mlecs/mlecs/training/payload"
)

// Transfer is one encoded payload: the part sizes the encoder reported and the bytes it wrote.
type Transfer struct {
	Sizes payload.Sizes
	Bytes int64
}

// RoundStats are the payloads of one simulated round.
type RoundStats struct {
	Round    uint64
	Down     Transfer            // the Global every edge pulled
	Up       map[string]Transfer // per edge
	Updates  []*payload.Update   // as decoded by the anchor
	Rejected int                 // updates the aggregation rejected
}

// Sim runs rounds in memory: every payload goes through Encode and Parse with Codec, as on the mesh.
type Sim struct {
	Anchor   *Anchor
	Edges    []*Edge
	Codec    payload.Codec
	MaxBytes int64 // decode limit per payload; 0: 1 GiB
	global   *payload.Global
}

// Run runs rounds more rounds. The first call starts with the anchor's initial round (it tunes on D'
// and publishes round 1). A strategy without communication trains edges and anchor side by side with
// nothing exchanged (Down and Up stay empty).
func (s *Sim) Run(ctx context.Context, rounds int) ([]RoundStats, error) {
	if s.Anchor == nil || len(s.Edges) == 0 || rounds < 0 {
		return nil, fmt.Errorf("%w: simulation of %d rounds with %d edges", ErrConfig, rounds, len(s.Edges))
	}
	comm := s.Anchor.cfg.Components.Communicate
	for _, e := range s.Edges {
		if e.cfg.Components.Communicate != comm {
			return nil, fmt.Errorf("%w: edge %s and the anchor disagree on communication", ErrConfig, e.ID())
		}
	}
	if s.global == nil {
		g, err := s.Anchor.Round(ctx, nil)
		if err != nil {
			return nil, err
		}
		s.global = g
	}
	var out []RoundStats
	for range rounds {
		st := RoundStats{Round: s.global.Round, Up: map[string]Transfer{}}
		var down *payload.Global
		if comm {
			var buf bytes.Buffer
			sz, err := s.global.Encode(&buf, s.Codec)
			if err != nil {
				return out, fmt.Errorf("round %d: encode global: %w", st.Round, err)
			}
			st.Down = Transfer{Sizes: sz, Bytes: int64(buf.Len())}
			if down, _, err = payload.DecodeGlobal(&buf, s.maxBytes()); err != nil {
				return out, fmt.Errorf("round %d: decode global: %w", st.Round, err)
			}
		}
		var ups []*payload.Update
		for _, e := range s.Edges {
			u, err := e.LocalRound(ctx, down)
			if err != nil {
				return out, err
			}
			if !comm {
				continue
			}
			var buf bytes.Buffer
			sz, err := u.Encode(&buf, s.Codec)
			if err != nil {
				return out, fmt.Errorf("round %d: encode update of %s: %w", st.Round, e.ID(), err)
			}
			st.Up[e.ID()] = Transfer{Sizes: sz, Bytes: int64(buf.Len())}
			du, _, err := payload.DecodeUpdate(&buf, s.maxBytes())
			if err != nil {
				return out, fmt.Errorf("round %d: decode update of %s: %w", st.Round, e.ID(), err)
			}
			ups = append(ups, du)
		}
		st.Updates = ups
		g, err := s.Anchor.Round(ctx, ups)
		if err != nil {
			return out, err
		}
		if r := s.Anchor.LastAggregation(); r != nil && comm {
			st.Rejected = len(r.Rejected)
		}
		s.global = g
		out = append(out, st)
	}
	return out, nil
}

func (s *Sim) maxBytes() int64 {
	if s.MaxBytes > 0 {
		return s.MaxBytes
	}
	return 1 << 30
}
