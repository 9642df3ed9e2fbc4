package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/hubble/hubble-applianceapi/internal/api"
	"github.com/hubble/hubble-applianceapi/internal/archive"
	"github.com/hubble/hubble-applianceapi/internal/backup"
	"github.com/hubble/hubble-applianceapi/internal/config"
	"github.com/hubble/hubble-applianceapi/internal/drill"
	"github.com/hubble/hubble-applianceapi/internal/fscheck"
	"github.com/hubble/hubble-applianceapi/internal/joblog"
	"github.com/hubble/hubble-applianceapi/internal/jobs"
	"github.com/hubble/hubble-applianceapi/internal/notify"
	"github.com/hubble/hubble-applianceapi/internal/restore"
	"github.com/hubble/hubble-applianceapi/internal/retention"
	"github.com/hubble/hubble-applianceapi/internal/scheduler"
	"github.com/hubble/hubble-applianceapi/internal/web"
)

// TriggerSchedule is the trigger recorded for runs of the built-in scheduler.
const TriggerSchedule = "schedule"

// Run serves until ctx ends (SIGTERM/SIGINT), then stops in order: no new
// requests, queued and executing jobs canceled and cleaned up, then exit.
// SIGHUP runs the reloaders given here (e.g. reopening the log file) and the
// daemon's own (the TLS certificate).
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger, version string, reloaders ...Reloader) error {
	d, err := New(cfg, log, version)
	if err != nil {
		return err
	}
	for _, r := range reloaders {
		d.OnReload(r.Name, r.Reload)
	}
	ln, err := d.listen()
	if err != nil {
		d.Close()
		return err
	}
	return d.Serve(ctx, ln)
}

// Daemon is the running service.
type Daemon struct {
	cfg      *config.Config
	log      *slog.Logger
	version  string
	jobLogs  *joblog.Buffer
	pipeline *backup.Pipeline
	store    *jobs.BoltStore
	manager  *jobs.Manager
	metrics  *api.Metrics
	offsite  *api.OffsiteMetrics
	reg      *prometheus.Registry
	notifier *notify.Notifier
	handler  http.Handler
	sched    *scheduler.Scheduler
	// fs runs the filesystem checks of the request path with a deadline.
	fs *fscheck.Checker

	// Scheduled restore drills (nil without drill.schedule).
	drill      *drill.Drill
	drills     *jobs.Manager
	drillSched *scheduler.Scheduler

	reloaders []Reloader

	mu          sync.Mutex
	lastSuccess time.Time
}

// New builds every part of the service from cfg; nothing runs yet.
func New(cfg *config.Config, log *slog.Logger, version string) (*Daemon, error) {
	// Every record naming a job is also kept for the console's job view.
	jobLogs := joblog.New()
	log = slog.New(jobLogs.Handler(log.Handler()))
	pipeline, err := NewPipeline(cfg, log, version)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		return nil, fmt.Errorf("create state_dir %s: %w", cfg.StateDir, err)
	}
	store, err := jobs.OpenStore(filepath.Join(cfg.StateDir, "jobs.db"))
	if err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, log: log, version: version, jobLogs: jobLogs, pipeline: pipeline, store: store,
		fs: fscheck.New(fscheck.DefaultTimeout)}
	pipeline.FS = d.fs
	d.notifier, err = notify.New(notify.Config{
		URL: cfg.Notify.WebhookURL, Headers: cfg.Notify.Headers, Timeout: cfg.Notify.Timeout.D(),
		Retries: cfg.Notify.Retries, OnSuccess: cfg.Notify.OnSuccess, StaleAfter: cfg.Notify.StaleAfter.D(),
	}, log)
	if err != nil {
		store.Close()
		return nil, err
	}

	d.manager = jobs.NewManager(store, d.work, jobs.Options{
		MaxConcurrent: cfg.MaxConcurrentJobs,
		MaxQueued:     cfg.MaxQueuedJobs,
		HistoryDays:   cfg.JobHistoryDays,
		Logger:        log,
		Resolve:       d.resolve,
		OnEvicted:     func(n int) { d.metrics.RefusedEvicted(n) },
		OnInterrupted: func(j jobs.Job) {
			if err := pipeline.Cleanup(context.Background(), j.ID); err != nil {
				log.Warn("remove leftovers of interrupted job", "job", j.ID, "error", err)
			}
		},
		OnFinished: d.finished,
	})

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	d.metrics, err = api.NewMetrics(reg, api.MetricsOptions{
		QueueDepth:    func() int { q, _ := d.manager.Counts(); return q },
		Executing:     func() int { _, e := d.manager.Counts(); return e },
		BackupDirFree: func() (uint64, error) { return d.freeBytes(cfg.BackupDir) },
		TempDirFree:   func() (uint64, error) { return d.freeBytes(cfg.TempDir) },
	})
	if err == nil {
		err = reg.Register(freeAge{d})
	}
	if err != nil {
		store.Close()
		return nil, err
	}
	// The dead man's switch as a metric, beside its webhook event: an alert
	// rule on it works without any webhook receiver.
	if err := reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: api.MetricsNamespace, Name: "stale",
		Help: "1 while no backup has succeeded for notify.stale_after, else 0 (always 0 when stale_after is not set).",
	}, func() float64 {
		if d.notifier.Stale() {
			return 1
		}
		return 0
	})); err != nil {
		store.Close()
		return nil, fmt.Errorf("register stale metric: %w", err)
	}
	var names []string
	for _, c := range pipeline.Copies {
		names = append(names, c.Name)
	}
	if d.offsite, err = api.NewOffsiteMetrics(reg, names); err != nil {
		store.Close()
		return nil, err
	}
	for i := range pipeline.Copies {
		pipeline.Copies[i].Failed, pipeline.Copies[i].Copied = d.offsite.CopyFailed, d.offsite.Copied
	}
	d.reg = reg
	d.sched, err = newScheduler(cfg, d.enqueueScheduled, log)
	if err != nil {
		store.Close()
		return nil, err
	}
	if err := d.setupDrills(cfg); err != nil {
		store.Close()
		return nil, err
	}
	creds, err := newVerifier(cfg, log)
	if err != nil {
		store.Close()
		return nil, err
	}
	d.handler = api.New(api.Options{
		Jobs:        jobsAdapter{d},
		Ready:       readiness{d},
		Version:     version,
		Logger:      log,
		Metrics:     api.MetricsHandler(reg),
		NextRun:     d.sched.Next,
		Credentials: creds,
		Console: web.New(web.Options{
			Archives: pipeline.Target,
			Overview: d.overview,
			JobLog:   jobLogs.Get,
			Logger:   log,
		}),
	})
	return d, nil
}

// Handler is the HTTP API (for tests that serve it themselves).
func (d *Daemon) Handler() http.Handler { return d.handler }

// Close releases the store; only for a Daemon that never served.
func (d *Daemon) Close() { d.store.Close() }

// Serve runs the service on ln until ctx ends.
func (d *Daemon) Serve(ctx context.Context, ln net.Listener) error {
	defer d.store.Close()
	if err := d.manager.Start(ctx); err != nil {
		return err
	}
	if d.drills != nil {
		if err := d.drills.Start(ctx); err != nil {
			stopCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			d.manager.Stop(stopCtx)
			return err
		}
		d.drillSched.Start()
	}
	d.initLastSuccess(ctx)
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	// What backups and restores of dead processes (a CLI run killed with
	// -9) left: their children first, then their files. Off the start's
	// path: a hung share must not keep the API down.
	swept := make(chan struct{})
	go func() {
		defer close(swept)
		d.pipeline.SweepOrphans(watchCtx)
		restore.SweepOrphans(d.cfg.TempDir, d.log)
	}()
	defer func() { <-swept }()
	go d.notifier.Watch(watchCtx, d.LastSuccess)
	var hupDone sync.WaitGroup
	hupReady := make(chan struct{})
	hupDone.Go(func() { d.watchHUP(watchCtx, hupReady) })
	defer hupDone.Wait()
	<-hupReady
	d.sched.Start()

	srv := api.NewServer(ln.Addr().String(), d.handler)
	srv.ErrorLog = serverLog(d.log)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	d.log.Info("service started", "listen", ln.Addr().String(), "tls", d.cfg.TLS.Enabled(),
		"backup_dir", d.cfg.BackupDir, "schema", d.cfg.Database.Schema)

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	d.log.Info("service stopping")
	stopCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if serr := d.sched.Stop(stopCtx); serr != nil {
		d.log.Warn("stop scheduler", "error", serr)
	}
	// Requests first: Shutdown stops accepting and waits for the requests in
	// flight, so no Execute can reach a stopped job manager (it answered
	// 500 while the jobs were stopping). A Cancel in flight stops its job
	// itself, so it still gets its answer; jobs an Execute in flight queued
	// are canceled by the manager's Stop just after.
	if serr := srv.Shutdown(stopCtx); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		d.log.Warn("stop http server", "error", serr)
	}
	if serr := d.manager.Stop(stopCtx); serr != nil {
		d.log.Warn("stop jobs", "error", serr)
	}
	if d.drills != nil {
		if serr := d.drillSched.Stop(stopCtx); serr != nil {
			d.log.Warn("stop drill scheduler", "error", serr)
		}
		if serr := d.drills.Stop(stopCtx); serr != nil {
			d.log.Warn("stop drills", "error", serr)
		}
	}
	stopWatch()
	d.notifier.Close(stopCtx)
	d.log.Info("service stopped")
	return err
}

// work runs one backup job.
func (d *Daemon) work(ctx context.Context, job jobs.Job, report func(jobs.Update)) (jobs.Result, error) {
	res, err := d.pipeline.Run(ctx, job.ID, func(p backup.Progress) {
		report(jobs.Update{Phase: &p.Phase, Progress: &jobs.Progress{Done: p.TablesDone, Total: p.TablesTotal, Bytes: p.Bytes}})
	})
	if err != nil {
		return jobs.Result{}, err
	}
	return d.jobResult(res), nil
}

func (d *Daemon) jobResult(res backup.Result) jobs.Result {
	if res.Location == "" {
		res.Location = d.pipeline.Target.Location(res.Name)
	}
	return jobs.Result{Artifact: res.Location, Bytes: res.Bytes, SHA256: res.SHA256, Copies: res.Copies,
		Message: backup.SuccessMessage(res)}
}

// resolve finds, at start-up, the archive a job of a dead process had
// published (verified, its manifest naming the job): such a job succeeded,
// whatever its last record says.
func (d *Daemon) resolve(ctx context.Context, j jobs.Job) (jobs.Result, bool, error) {
	res, ok, err := d.pipeline.FindPublished(ctx, j.ID, j.StartedAt)
	if err != nil || !ok {
		return jobs.Result{}, false, err
	}
	return d.jobResult(res), true, nil
}

// submit runs Execute's synchronous pre-flight, then queues the job.
func (d *Daemon) submit(ctx context.Context, trigger, skipMessage string) (jobs.Job, error) {
	if err := d.pipeline.Preflight(); err != nil {
		return d.manager.Fail(ctx, trigger, err.Error())
	}
	return d.manager.SubmitWithSkipMessage(ctx, trigger, skipMessage)
}

func (d *Daemon) enqueueScheduled(ctx context.Context) error {
	_, err := d.submit(ctx, TriggerSchedule, jobs.MsgSkipped)
	return err
}

// finished feeds metrics, retention and notifications.
func (d *Daemon) finished(j jobs.Job) {
	d.metrics.JobFinished(toAPI(j))
	if j.Status == jobs.StatusSuccess {
		d.mu.Lock()
		d.lastSuccess = j.FinishedAt
		d.mu.Unlock()
		d.metrics.SetLastSuccess(j.FinishedAt, j.Result.Bytes)
		d.applyRetention()
	}
	event := notify.EventJobFailed
	switch j.Status {
	case jobs.StatusSuccess:
		event = notify.EventJobSucceeded
	case jobs.StatusCanceled, jobs.StatusLimitReached:
		return // not failures of the backup itself
	}
	d.notifier.Notify(context.Background(), notify.Event{
		Event: event, ID: j.ID, Status: string(j.Status), Message: j.Message, Trigger: j.Trigger,
		StartedAt: j.StartedAt, FinishedAt: j.FinishedAt, Archive: j.Result.Artifact, Bytes: j.Result.Bytes,
	})
}

// applyRetention applies the local rules to backup_dir and each target's
// own rules to that target.
func (d *Daemon) applyRetention() {
	for _, r := range RetentionScopes(d.cfg, d.pipeline) {
		if r.Rules.KeepLast == 0 && r.Rules.KeepDays == 0 {
			continue
		}
		if _, err := retention.Apply(context.Background(), r.Store, r.Rules, time.Now(), archive.ParseName, false, d.log); err != nil {
			d.log.Warn("apply retention", "where", r.Name, "error", err)
		}
	}
}

// LastSuccess is when a backup last succeeded (zero if never).
func (d *Daemon) LastSuccess() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lastSuccess
}

func (d *Daemon) initLastSuccess(ctx context.Context) {
	all, err := d.store.List(ctx, jobs.Query{Match: func(j jobs.Job) bool { return j.Status == jobs.StatusSuccess }})
	if err != nil {
		return
	}
	for _, j := range all {
		if j.Status == jobs.StatusSuccess && j.Trigger != TriggerDrill {
			d.mu.Lock()
			if j.FinishedAt.After(d.lastSuccess) {
				d.lastSuccess = j.FinishedAt
			}
			d.mu.Unlock()
		}
	}
	if t := d.LastSuccess(); !t.IsZero() {
		d.metrics.SetLastSuccess(t, 0)
	}
}
