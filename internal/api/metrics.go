package api

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsNamespace prefixes every metric of the job system.
const MetricsNamespace = "hubble_backup"

// finalStatuses are the statuses a job ends in; their counters start at 0 so
// a rate() over them works from the first scrape.
var finalStatuses = []string{"Success", "Error", "Canceled", "LimitReached"}

// MetricsOptions supplies the live values read at each scrape. A nil
// callback leaves its metric out.
type MetricsOptions struct {
	QueueDepth    func() int             // jobs waiting in the queue
	Executing     func() int             // jobs executing now
	BackupDirFree func() (uint64, error) // free bytes of backup_dir
	TempDirFree   func() (uint64, error) // free bytes of temp_dir
}

// Metrics holds the job-system metrics the job manager feeds:
//
//	hubble_backup_jobs_total{status}                 counter, jobs by final status
//	hubble_backup_job_duration_seconds{status}       histogram, start to finish of jobs that ran
//	hubble_backup_archive_bytes_total                counter, bytes of archives written
//	hubble_backup_last_archive_bytes                 gauge, size of the newest successful archive
//	hubble_backup_last_success_timestamp_seconds     gauge, Unix time of the newest success
//	hubble_backup_queue_depth                        gauge, jobs waiting
//	hubble_backup_executing_jobs                     gauge, jobs executing
//	hubble_backup_dir_free_bytes{dir}                gauge, free bytes of backup_dir and temp_dir
//	hubble_backup_refused_jobs_evicted_total         counter, records of jobs that never ran, evicted
type Metrics struct {
	jobs         *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	archiveTotal prometheus.Counter
	lastArchive  prometheus.Gauge
	lastSuccess  prometheus.Gauge
	evicted      prometheus.Counter
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer, opts MetricsOptions) (*Metrics, error) {
	m := &Metrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: MetricsNamespace, Name: "jobs_total",
			Help: "Backup jobs by final status.",
		}, []string{"status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: MetricsNamespace, Name: "job_duration_seconds",
			Help: "Time from start to finish of backup jobs that ran, by final status.",
			// 1 s to about 9 h.
			Buckets: prometheus.ExponentialBuckets(1, 2, 16),
		}, []string{"status"}),
		archiveTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: MetricsNamespace, Name: "archive_bytes_total",
			Help: "Bytes of backup archives written by successful jobs.",
		}),
		lastArchive: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: MetricsNamespace, Name: "last_archive_bytes",
			Help: "Size of the newest successful backup archive in bytes.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: MetricsNamespace, Name: "last_success_timestamp_seconds",
			Help: "Unix time of the newest successful backup (0: none yet).",
		}),
		evicted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: MetricsNamespace, Name: "refused_jobs_evicted_total",
			Help: "Records of jobs that never ran (refused by the limit, skipped, failed at once) evicted to keep the newest 10,000.",
		}),
	}
	for _, st := range finalStatuses {
		m.jobs.WithLabelValues(st)
	}
	cs := []prometheus.Collector{m.jobs, m.duration, m.archiveTotal, m.lastArchive, m.lastSuccess, m.evicted}
	if opts.QueueDepth != nil {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: MetricsNamespace, Name: "queue_depth", Help: "Backup jobs waiting in the queue.",
		}, func() float64 { return float64(opts.QueueDepth()) }))
	}
	if opts.Executing != nil {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: MetricsNamespace, Name: "executing_jobs", Help: "Backup jobs executing now.",
		}, func() float64 { return float64(opts.Executing()) }))
	}
	if opts.BackupDirFree != nil || opts.TempDirFree != nil {
		cs = append(cs, &freeBytes{
			desc: prometheus.NewDesc(prometheus.BuildFQName(MetricsNamespace, "", "dir_free_bytes"),
				"Free bytes of the backup and temporary directories (absent when unreadable).",
				[]string{"dir"}, nil),
			dirs: map[string]func() (uint64, error){"backup_dir": opts.BackupDirFree, "temp_dir": opts.TempDirFree},
		})
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// JobFinished records a job that reached its final status: counted by
// status; its duration observed when it ran; a success also sets the archive
// and last-success metrics.
func (m *Metrics) JobFinished(j Job) {
	m.jobs.WithLabelValues(j.Status).Inc()
	if !j.StartedAt.IsZero() && !j.FinishedAt.IsZero() {
		m.duration.WithLabelValues(j.Status).Observe(max(j.FinishedAt.Sub(j.StartedAt), 0).Seconds())
	}
	if j.Status == "Success" {
		m.archiveTotal.Add(float64(max(j.Bytes, 0)))
		m.SetLastSuccess(j.FinishedAt, j.Bytes)
	}
}

// RefusedEvicted counts n evicted records of jobs that never ran.
func (m *Metrics) RefusedEvicted(n int) { m.evicted.Add(float64(n)) }

// SetLastSuccess sets the last-success metrics, e.g. from the job store at
// start-up so they survive a restart. A zero time is ignored.
func (m *Metrics) SetLastSuccess(at time.Time, archiveBytes int64) {
	if at.IsZero() {
		return
	}
	m.lastSuccess.Set(float64(at.UnixNano()) / 1e9)
	m.lastArchive.Set(float64(archiveBytes))
}

// MetricsHandler serves g in the Prometheus text format for Options.Metrics.
// A failing collector leaves its metric out instead of failing the scrape.
func MetricsHandler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// freeBytes reads the directories' free space at scrape time.
type freeBytes struct {
	desc *prometheus.Desc
	dirs map[string]func() (uint64, error)
}

func (f *freeBytes) Describe(ch chan<- *prometheus.Desc) { ch <- f.desc }

func (f *freeBytes) Collect(ch chan<- prometheus.Metric) {
	for name, free := range f.dirs {
		if free == nil {
			continue
		}
		n, err := free()
		if err != nil {
			// Absent rather than a made-up value; absent() alerts catch it.
			continue
		}
		ch <- prometheus.MustNewConstMetric(f.desc, prometheus.GaugeValue, float64(n), name)
	}
}
