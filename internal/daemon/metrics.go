package daemon

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hubble/hubble-applianceapi/internal/api"
)

// metricsWait bounds how long a scrape waits for a directory's free space
// before it serves the last value measured: a hung share must not make
// every scrape time out.
const metricsWait = time.Second

// freeBytes is a directory's free space for /metrics: measured now if the
// filesystem answers within metricsWait, else the last value measured
// (hubble_backup_dir_free_age_seconds says how old it is).
func (d *Daemon) freeBytes(dir string) (uint64, error) {
	n, err := d.fs.FreeBytesWithin(dir, metricsWait)
	if err == nil {
		return n, nil
	}
	if last, ok := d.fs.Last(dir); ok {
		return last.Bytes, nil
	}
	return 0, err
}

// freeAge exports how old the free-space values of /metrics are.
type freeAge struct{ d *Daemon }

var freeAgeDesc = prometheus.NewDesc(prometheus.BuildFQName(api.MetricsNamespace, "", "dir_free_age_seconds"),
	"Age of the value of hubble_backup_dir_free_bytes: above a few seconds, its filesystem does not answer (hung NFS mount?).",
	[]string{"dir"}, nil)

func (f freeAge) Describe(ch chan<- *prometheus.Desc) { ch <- freeAgeDesc }

// Collect reads the ages as they are: the registry runs collectors
// concurrently, so a value measured during this very scrape may still show
// the age of the one before (too old by at most one scrape, never too young).
func (f freeAge) Collect(ch chan<- prometheus.Metric) {
	for name, dir := range map[string]string{"backup_dir": f.d.cfg.BackupDir, "temp_dir": f.d.cfg.TempDir} {
		if last, ok := f.d.fs.Last(dir); ok {
			ch <- prometheus.MustNewConstMetric(freeAgeDesc, prometheus.GaugeValue,
				max(time.Since(last.At), 0).Seconds(), name)
		}
	}
}
