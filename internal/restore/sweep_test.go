package restore_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/backup"
	"github.com/hubble/hubble-applianceapi/internal/engine/postgres"
	"github.com/hubble/hubble-applianceapi/internal/flock"
	"github.com/hubble/hubble-applianceapi/internal/pgtest"
	"github.com/hubble/hubble-applianceapi/internal/restore"
	"github.com/hubble/hubble-applianceapi/internal/storage/local"
)

// Sweeps of dead work in a tight loop (as every backup, every restore and
// the service's start run them) beside backups and restores sharing
// temp_dir and backup_dir: no sweep takes live work, every job succeeds
// (a staging folder or partial archive was visible unlocked for a moment,
// and a sweep in that moment removed it or took its lock).
func TestSweeps_BesideConcurrentBackupsAndRestores(t *testing.T) {
	ctx := context.Background()
	src := pgtest.NewDB(t)
	if err := pgtest.CreateHubble(testCtx(t), src, pgtest.HubbleOptions{Rows: 100}); err != nil {
		t.Fatal(err)
	}
	arch := makeArchive(t, src, "hubble", false)
	tempDir, backupDir := t.TempDir(), t.TempDir()
	quiet := slog.New(slog.DiscardHandler)

	stop := make(chan struct{})
	var sweeps sync.WaitGroup
	var swept atomic.Int64
	for range 2 {
		sweeps.Add(1)
		go func() {
			defer sweeps.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				dirs, _ := flock.RemoveAbandoned(tempDir, "hubble-backup-")
				restore.SweepOrphans(tempDir, quiet)
				files, _ := local.New(backupDir).RemoveOrphans(ctx)
				if len(dirs)+len(files) > 0 {
					t.Errorf("a sweep removed live work: %v %v", dirs, files)
				}
				swept.Add(1)
			}
		}()
	}

	eng, err := postgres.New(postgres.Config{DSN: src})
	if err != nil {
		t.Fatal(err)
	}
	var jobs sync.WaitGroup
	for round := range 2 {
		for i := range 2 {
			jobs.Add(2)
			go func() {
				defer jobs.Done()
				p := &backup.Pipeline{Engine: eng, Target: local.New(backupDir), FS: backup.OSFS{}, Log: quiet,
					Opts: backup.Options{BackupDir: backupDir, TempDir: tempDir, MinFreeMB: 1, Schema: "hubble",
						Parallel: 2, Level: 1, Version: "test"}}
				if _, err := p.Run(ctx, fmt.Sprintf("%032x", round*10+i), nil); err != nil {
					t.Errorf("backup beside sweeps: %v", err)
				}
			}()
			dst := erpDB(t) // the replicated tables the views read
			go func() {
				defer jobs.Done()
				deng, err := postgres.New(postgres.Config{DSN: dst})
				if err != nil {
					t.Error(err)
					return
				}
				r := &restore.Restorer{Engine: deng, Log: quiet}
				if _, err := r.Run(ctx, restore.Options{Archive: arch, TempDir: tempDir, Parallel: 2}); err != nil {
					t.Errorf("restore beside sweeps: %v", err)
				}
			}()
		}
		jobs.Wait()
	}
	close(stop)
	sweeps.Wait()
	t.Logf("%d sweep rounds beside 4 backups and 4 restores", swept.Load())
}
