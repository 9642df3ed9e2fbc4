package e2e

import (
	"net/http"
	"testing"
	"time"
)

// TestCancel_Queued: a queued job is removed from the queue and answers
// Canceled; the executing job is not disturbed.
func TestCancel_Queued(t *testing.T) {
	e := newEnv(t, options{replEnv: map[string]string{"REPCTL_SLEEP": "30"}})
	s := e.start(t)
	running, queued := s.execute(t), s.execute(t)
	t.Cleanup(func() { s.cancel(t, running.ID) })
	s.waitStatus(t, running.ID, "Executing", 20*time.Second)

	want := status{ID: queued.ID, Status: "Canceled", Message: "Job was canceled."}
	if got := s.cancel(t, queued.ID); got != want {
		t.Fatalf("Cancel of a queued job: %+v, want %+v", got, want)
	}
	if got := s.status(t, queued.ID); got != want {
		t.Errorf("Status after Cancel: %+v, want %+v", got, want)
	}
	if got := s.status(t, running.ID); got.Status != "Executing" {
		t.Errorf("the executing job is %s after canceling the queued one", got.Status)
	}
	// The queue is free again: a new job is accepted.
	if got := s.execute(t); got.Status != "Queued" {
		t.Errorf("Execute after canceling the queued job: %+v, want Queued", got)
	} else {
		t.Cleanup(func() { s.cancel(t, got.ID) })
	}
}

// TestCancel_Executing cancels a running job, in the replication tool's
// child process and in the middle of its COPY: it answers Canceled within
// 10 s and leaves no child process, staging folder, partial archive or
// database session behind.
func TestCancel_Executing(t *testing.T) {
	tests := []struct {
		phase, schema string
		replEnv       map[string]string
	}{
		{"replication", schemaSmall, map[string]string{"REPCTL_SLEEP": "30"}},
		{"data", schemaBulk, nil},
	}
	for _, tt := range tests {
		t.Run(tt.phase, func(t *testing.T) {
			e := newEnv(t, options{schema: tt.schema, replEnv: tt.replEnv})
			s := e.start(t)
			job := s.execute(t)
			s.waitPhase(t, job.ID, tt.phase, 60*time.Second)

			kids := descendants(s.cmd.Process.Pid)
			if tt.phase == "replication" && len(kids) == 0 {
				t.Fatal("no child process while the replication tool runs")
			}
			start := time.Now()
			got := s.cancel(t, job.ID)
			if got.Status == "Executing" && got.Message == "Cancellation requested." {
				got, _ = s.waitStatus(t, job.ID, "Canceled", 10*time.Second-time.Since(start))
			}
			took := time.Since(start)
			want := status{ID: job.ID, Status: "Canceled", Message: "Job was canceled."}
			if got != want {
				t.Fatalf("Cancel of an executing job: %+v, want %+v", got, want)
			}
			if took > 10*time.Second {
				t.Errorf("cancel took %v, want at most 10 s", took)
			}
			t.Logf("canceled in phase %s in %v", tt.phase, took.Round(time.Millisecond))
			if left := alive(kids); len(left) > 0 {
				t.Errorf("child processes left after the cancel: %v", left)
			}
			assertEmpty(t, e.tempDir)
			assertEmpty(t, e.backupDir)
			waitNoBackends(t, e.dsn, 10*time.Second)
			if got := s.status(t, job.ID); got != want {
				t.Errorf("Status after Cancel: %+v, want %+v", got, want)
			}
		})
	}
}

// TestCancel_UnknownID answers 404 with the SPEC text, on Cancel and Status.
func TestCancel_UnknownID(t *testing.T) {
	e := newEnv(t, options{})
	s := e.start(t)
	const id = "0123456789abcdef0123456789abcdef"
	want := status{ID: id, Status: "Error", Message: "Job with a given ID was not found."}
	for _, args := range [][]string{
		{"-X", "POST", s.base + "/api/Backup/Cancel?id=" + id},
		{s.base + "/api/Backup/Status?id=" + id},
	} {
		r := curl(t, args...)
		if r.code != http.StatusNotFound {
			t.Errorf("curl %v: HTTP %d, want 404", args, r.code)
		}
		if got := decodeStatus(t, r.body); got != want {
			t.Errorf("curl %v: %+v, want %+v", args, got, want)
		}
	}
}
