package node

import (
	"testing"
	"time"
)

// TestMinRoundIntervalPacesRounds: with a trainer that answers at once and quorum 1, an anchor would
// start tens of rounds a second; min_round_interval bounds the rate and rounds still advance.
func TestMinRoundIntervalPacesRounds(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test: skipped with -short")
	}
	const interval = 400 * time.Millisecond
	c := newTestCluster(t)
	for i, role := range []Role{RoleAnchorCapable, RoleEdge} {
		cfg := withQuorum(c.config(i, role), 1)
		cfg.MinRoundInterval = Duration(interval)
		c.start(i, cfg)
	}
	a := c.running()[0]
	waitFor(t, 20*time.Second, "round 2", func() bool { return a.Status().Round >= 2 })
	from, start := a.Status().Round, time.Now()
	const window = 3 * time.Second
	time.Sleep(window)
	rounds := a.Status().Round - from
	elapsed := time.Since(start)
	limit := uint64(elapsed/interval) + 1
	t.Logf("%d rounds in %v with min_round_interval %v (limit %d)", rounds, elapsed.Round(time.Millisecond), interval, limit)
	if rounds > limit {
		t.Fatalf("%d rounds in %v: more than one per %v", rounds, elapsed, interval)
	}
	if rounds < 2 {
		t.Fatalf("only %d rounds in %v: pacing stalled the rounds", rounds, elapsed)
	}
}
