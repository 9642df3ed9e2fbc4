package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Work is the opaque function a job runs. It must return soon after ctx is
// canceled (context.Cause(ctx) is ErrCanceled or ErrStopped), having removed
// what it created. report may be called from any goroutine until Work returns.
type Work func(ctx context.Context, job Job, report func(Update)) (Result, error)

var (
	// ErrStopped is returned by Submit and Start after Stop, and is the cause
	// of a job context canceled by Stop.
	ErrStopped = errors.New("job manager stopped")
	// ErrCanceled is the cause of a job context canceled by Cancel.
	ErrCanceled = errors.New("job canceled")
	// ErrNotStarted is returned by Submit before Start.
	ErrNotStarted = errors.New("job manager not started")
)

// Defaults for zero Options fields.
const (
	DefaultHistoryDays      = 90
	DefaultCancelWait       = 10 * time.Second
	DefaultProgressInterval = 500 * time.Millisecond
	DefaultMaxRefused       = 10_000
	pruneInterval           = 24 * time.Hour
)

// Options configure a Manager.
type Options struct {
	MaxConcurrent int // jobs executing at once; <= 0 means 1
	MaxQueued     int // jobs waiting beyond those; < 0 means 0
	HistoryDays   int // finished jobs older than this are pruned; <= 0 means DefaultHistoryDays
	// CancelWait bounds how long Cancel waits for an executing job's work to
	// return; <= 0 means DefaultCancelWait.
	CancelWait time.Duration
	// ProgressInterval throttles persisting progress-only updates; <= 0 means
	// DefaultProgressInterval. Phase, message and status changes are persisted at once.
	ProgressInterval time.Duration
	Logger           *slog.Logger // nil discards
	// OnInterrupted is called by Start for each job a dead process left Queued
	// or Executing, after it was recorded (Error, or Success when Resolve
	// found its result), so the caller can remove the job's leftovers.
	OnInterrupted func(Job)
	// Resolve, if set, is asked by Start about each job a dead process left
	// Queued or Executing, before it is recorded: when the job's work had in
	// fact completed (e.g. its archive was published, but the final record
	// could not be written), it returns the work's result and true, and the
	// job is recorded Success instead of interrupted.
	Resolve func(ctx context.Context, job Job) (Result, bool, error)
	// MaxRefused is how many records of jobs that never ran (refused by the
	// limit, or failed at once by Fail) are kept, the newest; <= 0 means
	// DefaultMaxRefused. Evicted ids answer ErrNotFound.
	MaxRefused int
	// OnEvicted, if set, is called with the number of such records evicted.
	OnEvicted func(n int)
	// OnFinished is called once for every job that reaches a final status in
	// this process (including LimitReached refusals, pre-flight failures and
	// canceled queued jobs), after the final record is persisted and
	// published. Calls run one at a time, in order, on a goroutine of their
	// own, never on the caller's (an HTTP request) or the job's path: a slow
	// hook (retention on a share) delays no answer. Stop waits for them.
	OnFinished func(Job)
}

// Manager queues and runs jobs: a FIFO queue, at most MaxConcurrent executing,
// every state change persisted to the Store before callers can see it.
type Manager struct {
	store Store
	work  Work
	opts  Options
	log   *slog.Logger
	limit int // MaxConcurrent + MaxQueued: unfinished jobs allowed at once

	mu        sync.RWMutex
	starting  bool
	started   bool
	stopped   bool
	active    map[string]*entry // queued, executing, or final but not persisted
	queue     []*entry
	executing int
	reserved  int // Submits between the limit check and enqueueing
	stopDone  chan struct{}

	inflight sync.WaitGroup // reserved Submits
	workers  sync.WaitGroup // run goroutines
	bg       sync.WaitGroup // pruner
	quit     chan struct{}

	hookMu    sync.Mutex
	hookIdle  *sync.Cond // signaled when hookQueue drains
	hookQueue []Job      // OnFinished calls not yet made
	hookBusy  bool       // a goroutine is making them
}

// NewManager returns a Manager running work for jobs kept in store. Call Start
// before Submit, and Stop before closing the store.
func NewManager(store Store, work Work, opts Options) *Manager {
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 1
	}
	if opts.MaxQueued < 0 {
		opts.MaxQueued = 0
	}
	if opts.HistoryDays <= 0 {
		opts.HistoryDays = DefaultHistoryDays
	}
	if opts.CancelWait <= 0 {
		opts.CancelWait = DefaultCancelWait
	}
	if opts.ProgressInterval <= 0 {
		opts.ProgressInterval = DefaultProgressInterval
	}
	if opts.MaxRefused <= 0 {
		opts.MaxRefused = DefaultMaxRefused
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{
		store:  store,
		work:   work,
		opts:   opts,
		log:    log,
		limit:  opts.MaxConcurrent + opts.MaxQueued,
		active: make(map[string]*entry),
		quit:   make(chan struct{}),
	}
	m.hookIdle = sync.NewCond(&m.hookMu)
	return m
}

// Submit records a new job with the given trigger ("api", "schedule", ...) and
// queues it. When the unfinished jobs already number MaxConcurrent+MaxQueued
// the job is recorded as LimitReached instead and returned with a nil error.
// The returned record is persisted.
func (m *Manager) Submit(ctx context.Context, trigger string) (Job, error) {
	return m.SubmitWithSkipMessage(ctx, trigger, MsgLimitReached)
}

// SubmitWithSkipMessage is Submit with the Message a refused job gets, e.g.
// MsgSkipped for a scheduled run.
func (m *Manager) SubmitWithSkipMessage(ctx context.Context, trigger, skipMessage string) (Job, error) {
	now := time.Now().UTC()
	job := Job{ID: NewID(), Trigger: trigger, CreatedAt: now, StartedBy: Actor(ctx)}
	m.persistPending(ctx)

	m.mu.Lock()
	switch {
	case m.stopped:
		m.mu.Unlock()
		return Job{}, ErrStopped
	case !m.started:
		m.mu.Unlock()
		return Job{}, ErrNotStarted
	case len(m.queue)+m.executing+m.reserved >= m.limit:
		m.mu.Unlock()
		job.Status, job.Message, job.FinishedAt, job.Phase = StatusLimitReached, skipMessage, now, PhaseDone
		if err := m.putRefused(ctx, job); err != nil {
			return Job{}, fmt.Errorf("record refused job: %w", err)
		}
		m.finished(job)
		return job, nil
	}
	m.reserved++
	m.inflight.Add(1)
	m.mu.Unlock()
	defer m.inflight.Done()

	// Persist outside the lock: Get and Cancel stay cheap during the fsync.
	job.Status, job.Message, job.Phase = StatusQueued, MsgQueued, PhaseQueued
	err := m.store.Put(ctx, job)

	m.mu.Lock()
	m.reserved--
	if err != nil {
		m.mu.Unlock()
		return Job{}, fmt.Errorf("record new job: %w", err)
	}
	if m.stopped {
		// Stop drained the queue while we were writing; it waits for us.
		m.mu.Unlock()
		job.Status, job.Message, job.FinishedAt, job.Phase = StatusCanceled, MsgStopped, time.Now().UTC(), PhaseDone
		if err := m.store.Put(context.WithoutCancel(ctx), job); err != nil {
			return Job{}, fmt.Errorf("record canceled job: %w", err)
		}
		m.finished(job)
		return job, nil
	}
	e := newEntry(job)
	m.active[job.ID] = e
	m.queue = append(m.queue, e)
	m.dispatchLocked()
	m.mu.Unlock()
	m.log.Info("job queued", "job", job.ID, "trigger", trigger)
	return job, nil
}

// Get returns the job with id: from memory while it is active, else from the
// store. An unknown id gives an error wrapping ErrNotFound.
func (m *Manager) Get(id string) (Job, error) {
	m.mu.RLock()
	e := m.active[id]
	m.mu.RUnlock()
	if e != nil {
		return e.snapshot(), nil
	}
	return m.store.Get(context.Background(), id)
}

// List returns the jobs q selects, newest first, active ones with their
// latest in-memory state (which q.Match judges).
func (m *Manager) List(q Query) ([]Job, error) {
	m.mu.RLock()
	live := make(map[string]*entry, len(m.active))
	for id, e := range m.active {
		live[id] = e
	}
	m.mu.RUnlock()
	latest := func(j Job) Job {
		if e := live[j.ID]; e != nil {
			return e.snapshot()
		}
		return j
	}
	match := q.Match
	q.Match = func(j Job) bool { return match == nil || match(latest(j)) }
	jobs, err := m.store.List(context.Background(), q)
	for i, j := range jobs {
		jobs[i] = latest(j)
	}
	return jobs, err
}

// putRefused records a job that never ran, evicting the oldest such records
// beyond MaxRefused.
func (m *Manager) putRefused(ctx context.Context, job Job) error {
	n, err := m.store.PutRefused(ctx, job, m.opts.MaxRefused)
	if err != nil {
		return err
	}
	if n > 0 {
		m.log.Debug("evicted records of refused jobs", "jobs", n, "kept", m.opts.MaxRefused)
		if m.opts.OnEvicted != nil {
			m.opts.OnEvicted(n)
		}
	}
	return nil
}

// persistPending retries writing the final records the store refused
// (state_dir full or failing): they are answered from memory meanwhile, and
// must reach the store before a restart would call them interrupted.
func (m *Manager) persistPending(ctx context.Context) {
	m.mu.RLock()
	var pending []*entry
	for _, e := range m.active {
		if e.state == stateDone {
			pending = append(pending, e)
		}
	}
	m.mu.RUnlock()
	for _, e := range pending {
		job := e.snapshot()
		if !job.Status.Terminal() {
			continue
		}
		if err := m.store.Put(context.WithoutCancel(ctx), job); err != nil {
			return // still failing: the next call tries again
		}
		m.log.Info("recorded final job state", "job", job.ID, "status", string(job.Status))
		m.mu.Lock()
		if m.active[e.id] == e {
			delete(m.active, e.id)
		}
		m.mu.Unlock()
	}
}

// Counts returns how many jobs are queued and executing now.
func (m *Manager) Counts() (queued, executing int) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.queue) + m.reserved, m.executing
}

// dispatchLocked starts queued jobs while workers are free. Caller holds m.mu.
func (m *Manager) dispatchLocked() {
	for m.started && !m.stopped && m.executing < m.opts.MaxConcurrent && len(m.queue) > 0 {
		e := m.queue[0]
		m.queue[0] = nil
		m.queue = m.queue[1:]
		e.state = stateRunning
		m.executing++
		m.workers.Add(1)
		go m.run(e)
	}
}

// finished logs a final record and queues the OnFinished hook's call.
func (m *Manager) finished(job Job) {
	level := slog.LevelInfo
	if job.Status == StatusError {
		level = slog.LevelError
	}
	m.log.Log(context.Background(), level, "job finished", "job", job.ID, "status", string(job.Status), "message", job.Message)
	if m.opts.OnFinished == nil {
		return
	}
	m.hookMu.Lock()
	defer m.hookMu.Unlock()
	m.hookQueue = append(m.hookQueue, job)
	if !m.hookBusy {
		// One goroutine while calls are queued, none while idle.
		m.hookBusy = true
		go m.runHooks()
	}
}

func (m *Manager) runHooks() {
	m.hookMu.Lock()
	defer m.hookMu.Unlock()
	for len(m.hookQueue) > 0 {
		job := m.hookQueue[0]
		m.hookQueue[0] = Job{}
		m.hookQueue = m.hookQueue[1:]
		m.hookMu.Unlock()
		m.callHook(job)
		m.hookMu.Lock()
	}
	m.hookBusy = false
	m.hookIdle.Broadcast()
}

// callHook runs OnFinished, turning a panic into a log line.
func (m *Manager) callHook(job Job) {
	defer func() {
		if r := recover(); r != nil {
			m.log.Error("job finished hook panicked", "job", job.ID, "panic", r)
		}
	}()
	m.opts.OnFinished(job)
}

// waitHooks returns once every queued OnFinished call is made.
func (m *Manager) waitHooks() {
	m.hookMu.Lock()
	defer m.hookMu.Unlock()
	for m.hookBusy {
		m.hookIdle.Wait()
	}
}
