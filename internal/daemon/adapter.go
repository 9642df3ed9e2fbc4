package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hubble/hubble-applianceapi/internal/api"
	"github.com/hubble/hubble-applianceapi/internal/fscheck"
	"github.com/hubble/hubble-applianceapi/internal/jobs"
	"github.com/hubble/hubble-applianceapi/internal/msg"
)

// jobsAdapter presents the job manager as the narrow api.Jobs interface.
type jobsAdapter struct{ d *Daemon }

func (a jobsAdapter) Submit(ctx context.Context, trigger string) (api.Job, error) {
	j, err := a.d.submit(jobs.WithActor(ctx, api.Principal(ctx)), trigger, jobs.MsgLimitReached)
	return toAPI(j), err
}

func (a jobsAdapter) Get(_ context.Context, id string) (api.Job, error) {
	j, err := a.d.manager.Get(id)
	if err == nil && j.Trigger == TriggerDrill && a.d.drills != nil {
		j, err = a.d.drills.Get(id) // a running drill's live state
	}
	return toAPI(j), mapNotFound(err)
}

func (a jobsAdapter) Cancel(ctx context.Context, id string) (api.Job, error) {
	if a.d.drills != nil {
		if j, err := a.d.manager.Get(id); err == nil && j.Trigger == TriggerDrill {
			j, err = a.d.drills.Cancel(jobs.WithActor(ctx, api.Principal(ctx)), id)
			return toAPI(j), mapNotFound(err)
		}
	}
	j, err := a.d.manager.Cancel(jobs.WithActor(ctx, api.Principal(ctx)), id)
	return toAPI(j), mapNotFound(err)
}

func (a jobsAdapter) List(_ context.Context, q api.ListQuery) ([]api.Job, error) {
	js, err := a.d.manager.List(jobs.Query{Limit: q.Limit, Before: q.Before, Match: func(j jobs.Job) bool {
		return (q.Status == "" || string(j.Status) == q.Status) && (q.Trigger == "" || j.Trigger == q.Trigger)
	}})
	err = mapNotFound(err)
	out := make([]api.Job, len(js))
	for i, j := range js {
		out[i] = toAPI(j)
	}
	return out, err
}

func mapNotFound(err error) error {
	if errors.Is(err, jobs.ErrNotFound) {
		return fmt.Errorf("%w: %w", api.ErrNotFound, err)
	}
	return err
}

func toAPI(j jobs.Job) api.Job {
	a := api.Job{
		ID: j.ID, Status: string(j.Status), Message: j.Message, Trigger: j.Trigger, Phase: j.Phase,
		CreatedAt: j.CreatedAt, StartedAt: j.StartedAt, FinishedAt: j.FinishedAt,
		Archive: j.Result.Artifact, Bytes: j.Result.Bytes, SHA256: j.Result.SHA256, Copies: j.Result.Copies,
		StartedBy: j.StartedBy, CanceledBy: j.CanceledBy,
	}
	a.Progress.Done, a.Progress.Total, a.Progress.Bytes = j.Progress.Done, j.Progress.Total, j.Progress.Bytes
	return a
}

// readiness answers /readyz: the directories pass pre-flight, are writable,
// and the database answers with the schema present.
type readiness struct{ d *Daemon }

func (r readiness) Ready(ctx context.Context) error {
	p := r.d.pipeline
	if err := p.Preflight(); err != nil {
		return err
	}
	for _, dir := range []string{r.d.cfg.BackupDir, r.d.cfg.TempDir} {
		err := r.d.fs.Do(dir, func() error {
			f, err := os.CreateTemp(dir, ".readyz-*")
			if err != nil {
				return err
			}
			f.Close()
			return os.Remove(filepath.Clean(f.Name()))
		})
		if errors.Is(err, fscheck.ErrTimeout) {
			return msg.UnknownDrive(dir, err)
		}
		if err != nil {
			return fmt.Errorf("directory %s is not writable: %w", dir, err)
		}
	}
	if info, err := p.Engine.Check(ctx, r.d.cfg.Database.Schema); err != nil {
		return p.CheckError(err, info.Database)
	}
	return nil
}
