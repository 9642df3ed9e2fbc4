package daemon_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hubble/hubble-applianceapi/internal/archive"
	"github.com/hubble/hubble-applianceapi/internal/backup"
	"github.com/hubble/hubble-applianceapi/internal/daemon"
	"github.com/hubble/hubble-applianceapi/internal/jobs"
	"github.com/hubble/hubble-applianceapi/internal/storage/local"
)

// publishBarrier holds each publish of an archive until both processes have
// reached theirs, so they really race for the same name.
type publishBarrier struct {
	mu      sync.Mutex
	arrived int
	all     chan struct{}
}

func (b *publishBarrier) RenameNoReplace(o, n string) error {
	b.mu.Lock()
	if b.arrived++; b.arrived == 2 {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
	case <-time.After(time.Minute): // the other one failed before publishing
	}
	return unix.Renameat2(unix.AT_FDCWD, o, unix.AT_FDCWD, n, unix.RENAME_NOREPLACE)
}

func (b *publishBarrier) Link(o, n string) error { return os.Link(o, n) }

// A CLI backup and a service backup finishing in the same second (an
// injected clock; nothing shared in memory, as between two processes):
// neither archive replaces the other, both verify.
func TestDaemon_CLIAndServiceSameSecond(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(t, "")
	at := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)
	clock := func() time.Time { return at }
	barrier := &publishBarrier{all: make(chan struct{})}
	logBuf := &syncBuffer{}
	d := newDaemon(t, cfg, logBuf)
	daemon.SetPipeline(d, func(p *backup.Pipeline) {
		p.Now = clock
		p.Target = local.NewWithFS(cfg.BackupDir, barrier)
	})
	r := serveDaemon(t, d, logBuf)

	cli, err := daemon.NewPipeline(cfg, slog.New(slog.NewTextHandler(logBuf, nil)), "test")
	if err != nil {
		t.Fatal(err)
	}
	cli.Now = clock
	cli.Target = local.NewWithFS(cfg.BackupDir, barrier)
	cliDone := make(chan error, 1)
	go func() {
		_, err := cli.Run(context.Background(), jobs.NewID(), nil)
		cliDone <- err
	}()
	job := r.execute(t)
	if s := r.waitFinal(t, job.Id, 2*time.Minute); s.Status != "Success" {
		t.Errorf("service backup: %+v", s)
	}
	if err := <-cliDone; err != nil {
		t.Errorf("CLI backup: %v", err)
	}
	names, _ := filepath.Glob(filepath.Join(cfg.BackupDir, "*.tar.gz"))
	for i := range names {
		names[i] = filepath.Base(names[i])
	}
	slices.Sort(names)
	want := []string{"hubble_schema_backup_2026_11_30_02_00_00.tar.gz", "hubble_schema_backup_2026_11_30_02_00_00_2.tar.gz"}
	if !slices.Equal(names, want) {
		t.Fatalf("backup_dir holds %v, want %v", names, want)
	}
	for _, name := range names {
		f, err := os.Open(filepath.Join(cfg.BackupDir, name))
		if err != nil {
			t.Fatal(err)
		}
		fi, err := f.Stat()
		if err == nil {
			_, err = archive.Verify(context.Background(), f, fi.Size(), archive.Limits{})
		}
		f.Close()
		if err != nil {
			t.Errorf("verify %s: %v", name, err)
		}
	}
}
