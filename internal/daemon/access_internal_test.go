package daemon

import (
	"strings"
	"testing"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/backup"
)

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		36 * time.Hour: "36h", 90 * time.Minute: "1h30m", 10 * time.Second: "10s", 2 * time.Second: "2s",
		time.Hour + time.Second: "1h0m1s", 5 * time.Minute: "5m",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// hungFS is a filesystem whose statfs never answers until released, as a
// hung NFS mount.
type hungFS struct {
	backup.OSFS
	release chan struct{}
}

func (h hungFS) FreeBytes(string) (uint64, error) {
	<-h.release
	return 0, nil
}

func TestFreeWithin_HungMount(t *testing.T) {
	fs := hungFS{release: make(chan struct{})}
	defer close(fs.release)
	d := &Daemon{pipeline: &backup.Pipeline{FS: fs}}
	start := time.Now()
	_, err := d.freeWithin("/import/dbbackup", 50*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "no answer from the filesystem within 50ms") {
		t.Fatalf("freeWithin on a hung mount: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %v", took)
	}
}
