package daemon_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/jobs"
)

// A job whose archive was published but whose final record was lost (the
// process died, or state_dir was full when the job ended) is Success after a
// restart, found by its verified archive; a job that left no archive is
// interrupted. Before issue 10 both were "interrupted".
func TestDaemon_RecoveryFindsPublishedArchive(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(t, "")
	r := serve(t, cfg, nil)
	job := r.execute(t)
	if got := r.waitFinal(t, job.Id, 2*time.Minute); got.Status != "Success" {
		t.Fatalf("backup = %+v", got)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}

	// Rewrite the records as a dead process would have left them.
	ctx := context.Background()
	store, err := jobs.OpenStore(filepath.Join(e.StateDir, "jobs.db"))
	if err != nil {
		t.Fatal(err)
	}
	done, err := store.Get(ctx, job.Id)
	if err != nil {
		t.Fatal(err)
	}
	archive := done.Result.Artifact
	lost := done
	lost.Status, lost.Message, lost.Phase, lost.FinishedAt, lost.Result = jobs.StatusExecuting, jobs.MsgExecuting, "publish", time.Time{}, jobs.Result{}
	gone := jobs.Job{ID: jobs.NewID(), Status: jobs.StatusExecuting, Message: jobs.MsgExecuting, Trigger: "api", Phase: "data",
		CreatedAt: time.Now().UTC(), StartedAt: time.Now().UTC()}
	for _, j := range []jobs.Job{lost, gone} {
		if err := store.Put(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(archive); err != nil {
		t.Fatal(err)
	}

	r2 := serve(t, cfg, nil)
	if got := r2.status(t, job.Id); got.Status != "Success" || !strings.Contains(got.Message, archive) {
		t.Errorf("job with a published archive after restart = %+v, want Success naming %s", got, archive)
	}
	if got := r2.status(t, gone.ID); got.Status != "Error" || got.Message != jobs.MsgInterrupted {
		t.Errorf("job without an archive after restart = %+v, want interrupted", got)
	}
	for _, rec := range r2.jobs(t) {
		if rec.ID == job.Id && rec.Archive != archive {
			t.Errorf("recovered record names archive %q, want %q", rec.Archive, archive)
		}
	}
}
