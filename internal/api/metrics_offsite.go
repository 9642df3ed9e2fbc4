package api

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// OffsiteMetrics are the metrics of off-site copies and restore drills:
//
//	hubble_backup_offsite_copy_failures_total{target}     counter, failed copies (optional targets too)
//	hubble_backup_offsite_copy_bytes_total{target}        counter, bytes copied
//	hubble_backup_offsite_copy_seconds{target}            gauge, duration of the newest copy
//	hubble_backup_drills_total{status}                    counter, scheduled drills by final status
//	hubble_backup_last_drill_success                      gauge, 1 when the newest drill passed, 0 when it failed
//	hubble_backup_last_drill_timestamp_seconds            gauge, Unix time the newest drill finished
type OffsiteMetrics struct {
	failures    *prometheus.CounterVec
	bytes       *prometheus.CounterVec
	seconds     *prometheus.GaugeVec
	drills      *prometheus.CounterVec
	drillOK     prometheus.Gauge
	drillFinish prometheus.Gauge
}

// NewOffsiteMetrics registers the metrics with reg; targets start at 0.
func NewOffsiteMetrics(reg prometheus.Registerer, targets []string) (*OffsiteMetrics, error) {
	m := &OffsiteMetrics{
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: MetricsNamespace, Name: "offsite_copy_failures_total",
			Help: "Off-site copies that failed, by target (optional targets included)."}, []string{"target"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: MetricsNamespace, Name: "offsite_copy_bytes_total",
			Help: "Bytes copied to off-site targets, by target."}, []string{"target"}),
		seconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: MetricsNamespace, Name: "offsite_copy_seconds",
			Help: "Duration of the newest successful off-site copy, by target."}, []string{"target"}),
		drills: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: MetricsNamespace, Name: "drills_total",
			Help: "Scheduled restore drills by final status."}, []string{"status"}),
		drillOK: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: MetricsNamespace, Name: "last_drill_success",
			Help: "1 when the newest restore drill passed, 0 when it failed (absent: none yet)."}),
		drillFinish: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: MetricsNamespace, Name: "last_drill_timestamp_seconds",
			Help: "Unix time the newest restore drill finished (0: none yet)."}),
	}
	for _, t := range targets {
		m.failures.WithLabelValues(t)
		m.bytes.WithLabelValues(t)
	}
	for _, st := range finalStatuses {
		m.drills.WithLabelValues(st)
	}
	for _, c := range []prometheus.Collector{m.failures, m.bytes, m.seconds, m.drills, m.drillFinish} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// CopyFailed counts a failed copy to target.
func (m *OffsiteMetrics) CopyFailed(target string) { m.failures.WithLabelValues(target).Inc() }

// Copied records a copy to target.
func (m *OffsiteMetrics) Copied(target string, n int64, d time.Duration) {
	m.bytes.WithLabelValues(target).Add(float64(n))
	m.seconds.WithLabelValues(target).Set(d.Seconds())
}

// DrillFinished records a drill's final status; registers the success
// gauge on the first drill so that it is absent until one ran.
func (m *OffsiteMetrics) DrillFinished(reg prometheus.Registerer, status string, at time.Time) {
	m.drills.WithLabelValues(status).Inc()
	if status != "Success" && status != "Error" {
		return
	}
	_ = reg.Register(m.drillOK) // a second registration is refused; the gauge stays
	if status == "Success" {
		m.drillOK.Set(1)
	} else {
		m.drillOK.Set(0)
	}
	m.drillFinish.Set(float64(at.UnixNano()) / 1e9)
}
