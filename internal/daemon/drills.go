package daemon

import (
	"context"

	"github.com/hubble/hubble-applianceapi/internal/config"
	"github.com/hubble/hubble-applianceapi/internal/jobs"
	"github.com/hubble/hubble-applianceapi/internal/notify"
	"github.com/hubble/hubble-applianceapi/internal/scheduler"
)

// MsgDrillSkipped is the Message of a scheduled drill that found the
// previous one still running.
const MsgDrillSkipped = "Skipped: another restore drill is still running."

// setupDrills builds the scheduled drills: their own job manager over the
// same store (so a drill never takes a backup's slot nor makes a backup
// "Skipped") and their own scheduler. Nothing when drill.schedule is empty.
func (d *Daemon) setupDrills(cfg *config.Config) error {
	if len(cfg.Drill.Schedule) == 0 {
		return nil
	}
	dr, err := NewDrill(cfg, d.log)
	if err != nil {
		return err
	}
	d.drill = dr
	d.drills = jobs.NewManager(d.store, d.drillWork, jobs.Options{
		MaxConcurrent: 1, MaxQueued: 0, HistoryDays: cfg.JobHistoryDays, Logger: d.log, OnFinished: d.drillFinished,
	})
	entries := make([]scheduler.Config, len(cfg.Drill.Schedule))
	for i, s := range cfg.Drill.Schedule {
		entries[i] = scheduler.Config{Cron: s.Cron, Timezone: s.Timezone}
	}
	d.drillSched, err = scheduler.New(entries, func(ctx context.Context) error {
		_, err := d.drills.SubmitWithSkipMessage(ctx, TriggerDrill, MsgDrillSkipped)
		return err
	}, d.log)
	return err
}

// RunDrillNow queues a drill as the scheduler would (tests, operators).
func (d *Daemon) RunDrillNow(ctx context.Context) (jobs.Job, error) {
	return d.drills.SubmitWithSkipMessage(ctx, TriggerDrill, MsgDrillSkipped)
}

// drillWork runs one scheduled drill: the newest archive of drill.target
// (else backup_dir), decrypted with drill.identity_file when encrypted.
func (d *Daemon) drillWork(ctx context.Context, job jobs.Job, report func(jobs.Update)) (jobs.Result, error) {
	report(jobs.PhaseUpdate("drill"))
	res, err := RunDrill(ctx, d.cfg, d.drill, d.cfg.Drill.Target, "", "")
	if err != nil {
		return jobs.Result{}, err
	}
	return jobs.Result{Artifact: res.Archive, Message: res.Message()}, nil
}

// drillFinished feeds the drill metrics and alerts on a failed drill.
func (d *Daemon) drillFinished(j jobs.Job) {
	d.offsite.DrillFinished(d.reg, string(j.Status), j.FinishedAt)
	if j.Status != jobs.StatusError {
		return
	}
	d.notifier.Notify(context.Background(), notify.Event{
		Event: notify.EventDrillFailed, ID: j.ID, Status: string(j.Status), Message: j.Message, Trigger: j.Trigger,
		StartedAt: j.StartedAt, FinishedAt: j.FinishedAt, Archive: j.Result.Artifact,
	})
}
