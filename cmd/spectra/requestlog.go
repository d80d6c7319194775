package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"spectra/internal/requestlog"
)

// Request log timings.
const (
	refusalFlushInterval = time.Second      // buffered refusals are written this often (at once when a batch is full)
	refusalPruneInterval = 10 * time.Minute // refusals past their retention or their workspace's cap are deleted this often
)

// registerRequestLogMetrics exposes the recorder's counters on /metrics.
func registerRequestLogMetrics(reg *prometheus.Registry, rec *requestlog.Recorder) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "spectra_refusals_dropped_total",
			Help: "Refused or failed gateway requests not written to the request log: the buffer was full, the workspace passed its per-minute bound, or a write failed."},
			func() float64 { return float64(rec.Dropped()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "spectra_refusals_written_total",
			Help: "Refused or failed gateway requests written to the request log."},
			func() float64 { return float64(rec.Written()) }))
}
