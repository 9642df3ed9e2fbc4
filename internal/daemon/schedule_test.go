package daemon_test

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

const msgSkipped = "Skipped: another backup job is still active."

// scheduled returns the job records with trigger "schedule", oldest first.
func scheduled(all []jobRecord) []jobRecord {
	var out []jobRecord
	for _, j := range all {
		if j.Trigger == "schedule" {
			out = append(out, j)
		}
	}
	slices.Reverse(out) // the API lists newest first
	return out
}

// TestDaemon_Schedule runs a per-second schedule against real PostgreSQL with
// jobs slower than the interval: every second gets exactly one run through
// the queue, runs that find the job still active are recorded as skipped,
// GET /api/ shows the next run, and a new daemon on the same state_dir keeps
// the history and schedules again.
func TestDaemon_Schedule(t *testing.T) {
	e := newEnv(t)
	// Each backup's repository export takes 3 s, so runs overlap.
	cfg := e.config(t, `max_concurrent_jobs: 1
max_queued_jobs: 0
schedule:
  - cron: "* * * * * *"
    timezone: UTC
`)
	cfg.Replication.Env = map[string]string{"REPCTL_SLEEP": "3"}
	r := serve(t, cfg, nil)

	var root struct {
		Service string     `json:"service"`
		Status  string     `json:"status"`
		NextRun *time.Time `json:"next_run"`
	}
	before := time.Now()
	r.do(t, http.MethodGet, "", &root)
	if root.Status != "running" || root.NextRun == nil {
		t.Fatalf("GET /api/ = %+v, want running with next_run", root)
	}
	if d := root.NextRun.Sub(before); d <= -time.Second || d > time.Second+100*time.Millisecond {
		t.Errorf("next_run %s is %s after the request, want the next second", root.NextRun, d)
	}

	// Wait for one scheduled backup that succeeded and runs skipped during it.
	var jobs []jobRecord
	wait(t, time.Minute, "a scheduled backup succeeds with skipped runs during it", func() bool {
		jobs = scheduled(r.jobs(t))
		var ok, skipped bool
		for _, j := range jobs {
			ok = ok || j.Status == "Success"
			skipped = skipped || j.Status == "LimitReached"
		}
		return ok && skipped
	})

	var ran, skipped int
	for i, j := range jobs {
		if j.CreatedAt == nil {
			t.Fatalf("job %s has no created_at", j.ID)
		}
		// The scheduled second is the one the run was created in, if the
		// run came less than 1 s late; consecutive runs then sit in
		// consecutive seconds (none lost, none doubled).
		sec := j.CreatedAt.Truncate(time.Second)
		if i > 0 {
			if prev := jobs[i-1].CreatedAt.Truncate(time.Second); sec.Sub(prev) != time.Second {
				t.Errorf("run %s created in second %s after a run in second %s, want one run every second",
					j.ID, sec.Format("15:04:05"), prev.Format("15:04:05"))
			}
		}
		switch j.Status {
		case "LimitReached":
			skipped++
			if j.Message != msgSkipped {
				t.Errorf("skipped run %s: message %q, want %q", j.ID, j.Message, msgSkipped)
			}
			if j.StartedAt != nil {
				t.Errorf("skipped run %s has started_at %s", j.ID, j.StartedAt)
			}
		default:
			ran++
			if j.StartedAt == nil {
				continue // still queued: checked below when it started
			}
			if late := j.StartedAt.Sub(sec); late >= time.Second {
				t.Errorf("run %s started %s after its scheduled second, want within 1 s", j.ID, late)
			}
		}
	}
	// The run that succeeded covered the skipped ones: each skipped run was
	// created while a run was executing. A job holds its slot until its
	// record is final, a little after its finished_at (the work's end):
	// slack for that, far below the 1 s between scheduled runs.
	const recording = 500 * time.Millisecond
	for _, s := range jobs {
		if s.Status != "LimitReached" {
			continue
		}
		covered := false
		for _, j := range jobs {
			if j.StartedAt != nil && !s.CreatedAt.Before(*j.StartedAt) && (j.FinishedAt == nil || s.CreatedAt.Before(j.FinishedAt.Add(recording))) {
				covered = true
			}
		}
		if !covered {
			t.Errorf("run %s was skipped at %s while no job was executing", s.ID, s.CreatedAt)
		}
	}
	if ran == 0 || skipped < 2 {
		t.Errorf("%d runs, %d skipped; want runs and at least 2 skipped during a 3 s job", ran, skipped)
	}

	// Restart: a new daemon on the same state_dir.
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	old := len(jobs)
	restarted := time.Now()
	r2 := serve(t, e.config(t, `max_concurrent_jobs: 1
max_queued_jobs: 0
schedule:
  - cron: "* * * * * *"
    timezone: UTC
`), nil)
	var after []jobRecord
	wait(t, 10*time.Second, "the schedule runs after the restart", func() bool {
		after = scheduled(r2.jobs(t))
		last := after[len(after)-1]
		return last.CreatedAt.After(restarted)
	})
	if len(after) <= old {
		t.Errorf("after the restart %d scheduled jobs listed, want more than the %d before", len(after), old)
	}
	for _, j := range after {
		if j.CreatedAt.Before(restarted) && (j.Status == "Queued" || j.Status == "Executing") {
			t.Errorf("job %s from before the restart still %s", j.ID, j.Status)
		}
	}
}
