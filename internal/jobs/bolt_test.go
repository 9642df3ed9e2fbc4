package jobs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

func TestBoltStore_PutGetList(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t)
	base := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	var jobs []Job
	for i := range 5 {
		j := Job{ID: NewID(), Status: StatusQueued, Message: MsgQueued, Trigger: "api", CreatedAt: base.Add(time.Duration(i) * time.Minute)}
		if err := s.Put(ctx, j); err != nil {
			t.Fatalf("Put: %v", err)
		}
		jobs = append(jobs, j)
	}
	// Rewriting a record replaces it and keeps one index entry.
	jobs[2].Status, jobs[2].Message, jobs[2].Phase = StatusExecuting, MsgExecuting, "dump"
	if err := s.Put(ctx, jobs[2]); err != nil {
		t.Fatalf("Put again: %v", err)
	}

	got, err := s.Get(ctx, jobs[2].ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if diff := cmp.Diff(jobs[2], got); diff != "" {
		t.Errorf("Get mismatch (-want +got):\n%s", diff)
	}
	if _, err := s.Get(ctx, NewID()); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get unknown: err = %v, want ErrNotFound", err)
	}

	tests := []struct {
		limit int
		want  []Job
	}{
		{0, []Job{jobs[4], jobs[3], jobs[2], jobs[1], jobs[0]}},
		{2, []Job{jobs[4], jobs[3]}},
		{10, []Job{jobs[4], jobs[3], jobs[2], jobs[1], jobs[0]}},
	}
	for _, tt := range tests {
		got, err := s.List(ctx, Query{Limit: tt.limit})
		if err != nil {
			t.Fatalf("List(%d): %v", tt.limit, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("List(%d) mismatch (-want +got):\n%s", tt.limit, diff)
		}
	}
}

func TestBoltStore_DeleteFinishedBefore(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t)
	now := time.Now().UTC()
	old, recent := now.Add(-100*24*time.Hour), now.Add(-time.Hour)
	tests := []struct {
		name     string
		job      Job
		wantKept bool
	}{
		{"old success", Job{Status: StatusSuccess, CreatedAt: old, FinishedAt: old}, false},
		{"old error", Job{Status: StatusError, CreatedAt: old, FinishedAt: old}, false},
		{"old limit reached", Job{Status: StatusLimitReached, CreatedAt: old, FinishedAt: old}, false},
		{"old canceled without finish time", Job{Status: StatusCanceled, CreatedAt: old}, false},
		{"old job finished recently", Job{Status: StatusSuccess, CreatedAt: old, FinishedAt: recent}, true},
		{"recent success", Job{Status: StatusSuccess, CreatedAt: recent, FinishedAt: recent}, true},
		{"old queued", Job{Status: StatusQueued, CreatedAt: old}, true},
		{"old executing", Job{Status: StatusExecuting, CreatedAt: old}, true},
	}
	for i := range tests {
		tests[i].job.ID = NewID()
		if err := s.Put(ctx, tests[i].job); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.DeleteFinishedBefore(ctx, now.Add(-90*24*time.Hour))
	if err != nil {
		t.Fatalf("DeleteFinishedBefore: %v", err)
	}
	wantDeleted := 0
	for _, tt := range tests {
		_, err := s.Get(ctx, tt.job.ID)
		kept := err == nil
		if kept != tt.wantKept {
			t.Errorf("%s: kept = %v, want %v (err %v)", tt.name, kept, tt.wantKept, err)
		}
		if !tt.wantKept {
			wantDeleted++
		}
	}
	if n != wantDeleted {
		t.Errorf("deleted %d, want %d", n, wantDeleted)
	}
	all, err := s.List(ctx, Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(tests)-wantDeleted {
		t.Errorf("List after prune: %d jobs, want %d (index out of step)", len(all), len(tests)-wantDeleted)
	}
}

func TestOpenStore_CreatesPrivateFile(t *testing.T) {
	_, path := openTestStore(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("store mode = %o, want 600", perm)
	}
}

func TestOpenStore_Reopen(t *testing.T) {
	ctx := context.Background()
	s, path := openTestStore(t)
	j := Job{ID: NewID(), Status: StatusSuccess, Message: MsgSuccess, CreatedAt: time.Now().UTC()}
	if err := s.Put(ctx, j); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := OpenStore(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	got, err := s2.Get(ctx, j.ID)
	if err != nil {
		t.Fatalf("Get after reopen: %v", err)
	}
	if diff := cmp.Diff(j, got); diff != "" {
		t.Errorf("after reopen (-want +got):\n%s", diff)
	}
}

func TestOpenStore_Version(t *testing.T) {
	tests := []struct {
		name    string
		version string
		wantErr string
	}{
		{"current", "1", ""},
		{"newer", "2", "schema version 2 is newer than this program supports (1)"},
		{"garbage", "x", "read schema version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := openTestStore(t)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = db.Update(func(tx *bolt.Tx) error {
				return tx.Bucket(bucketMeta).Put(keyVersion, []byte(tt.version))
			})
			if cerr := db.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatal(err)
			}
			s2, err := OpenStore(path)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("OpenStore: %v", err)
				}
				_ = s2.Close()
				return
			}
			if err == nil {
				_ = s2.Close()
				t.Fatalf("OpenStore succeeded, want error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("OpenStore error = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestOpenStore_Locked(t *testing.T) {
	_, path := openTestStore(t)
	start := time.Now()
	s2, err := OpenStore(path)
	if err == nil {
		_ = s2.Close()
		t.Fatal("second OpenStore succeeded while the first holds the lock")
	}
	if !errors.Is(err, ErrStoreLocked) {
		t.Errorf("err = %v, want ErrStoreLocked", err)
	}
	if !strings.Contains(err.Error(), "state store is in use by another process") {
		t.Errorf("err = %q, want the in-use text", err)
	}
	if d := time.Since(start); d > 5*lockTimeout {
		t.Errorf("took %v to give up", d)
	}
}

// TestOpenStore_LockedByAnotherProcess opens the store in a child process
// (this test binary re-run) while this process holds it.
func TestOpenStore_LockedByAnotherProcess(t *testing.T) {
	if path := os.Getenv("JOBS_TEST_OPEN_STORE"); path != "" {
		s, err := OpenStore(path)
		if err != nil {
			fmt.Print(err)
			os.Exit(3)
		}
		_ = s.Close()
		os.Exit(0)
	}
	_, path := openTestStore(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestOpenStore_LockedByAnotherProcess$")
	cmd.Env = append(os.Environ(), "JOBS_TEST_OPEN_STORE="+path)
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("child: err = %v, output %q; want exit 3", err, out)
	}
	if !strings.Contains(string(out), "state store is in use by another process") {
		t.Errorf("child error = %q, want the in-use text", out)
	}
}
