package node

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// nodeMetrics are the daemon's Prometheus metrics, on a registry of its own (no global state).
type nodeMetrics struct {
	term           prometheus.Gauge
	round          prometheus.Gauge
	isAnchor       prometheus.Gauge
	livePeers      prometheus.Gauge
	anchorChanges  prometheus.Counter
	roundsDone     prometheus.Counter
	updatesIn      prometheus.Counter
	localRounds    prometheus.Counter
	refused        *prometheus.CounterVec
	blobFetched    prometheus.Counter
	blobFetchErrs  prometheus.Counter
	checkpointErrs prometheus.Counter
}

func newNodeMetrics(reg *prometheus.Registry) *nodeMetrics {
	m := &nodeMetrics{
		term:          prometheus.NewGauge(prometheus.GaugeOpts{Name: "mlecs_term", Help: "Current anchor term."}),
		round:         prometheus.NewGauge(prometheus.GaugeOpts{Name: "mlecs_round", Help: "Round of the newest global model held."}),
		isAnchor:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "mlecs_is_anchor", Help: "1 while this node holds the anchor lease."}),
		livePeers:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "mlecs_live_peers", Help: "Peers heard within one lease."}),
		anchorChanges: prometheus.NewCounter(prometheus.CounterOpts{Name: "mlecs_anchor_changes_total", Help: "Changes of (term, anchor) seen."}),
		roundsDone:    prometheus.NewCounter(prometheus.CounterOpts{Name: "mlecs_rounds_aggregated_total", Help: "Rounds this node aggregated as anchor."}),
		updatesIn:     prometheus.NewCounter(prometheus.CounterOpts{Name: "mlecs_updates_received_total", Help: "Edge updates accepted as anchor."}),
		localRounds:   prometheus.NewCounter(prometheus.CounterOpts{Name: "mlecs_local_rounds_total", Help: "Local training rounds completed."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlecs_messages_refused_total", Help: "Control messages refused by the node's policy, and updates refused or capped by aggregation (kind update).",
		}, []string{"kind", "reason"}),
		blobFetched:    prometheus.NewCounter(prometheus.CounterOpts{Name: "mlecs_blob_fetched_bytes_total", Help: "Blob bytes fetched from peers."}),
		blobFetchErrs:  prometheus.NewCounter(prometheus.CounterOpts{Name: "mlecs_blob_fetch_errors_total", Help: "Failed blob fetches."}),
		checkpointErrs: prometheus.NewCounter(prometheus.CounterOpts{Name: "mlecs_checkpoint_errors_total", Help: "Failed checkpoint saves (the round was not taken up)."}),
	}
	reg.MustRegister(m.term, m.round, m.isAnchor, m.livePeers, m.anchorChanges, m.roundsDone, m.updatesIn,
		m.localRounds, m.refused, m.blobFetched, m.blobFetchErrs, m.checkpointErrs,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mlecs_peak_rss_bytes", Help: "Peak resident set size of the process (VmHWM)."},
			func() float64 { return float64(PeakRSS()) }),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
