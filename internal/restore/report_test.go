package restore

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/archive"
	"github.com/hubble/hubble-applianceapi/internal/engine"
)

func TestPrintSummary_Stopped(t *testing.T) {
	m := &archive.Manifest{Schema: "hubble", SnapshotTime: time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)}
	stop := &engine.RestoreError{Issue: engine.RestoreIssue{Object: "MATERIALIZED VIEW hubble.mv", Reason: "division by zero"}}
	tests := []struct {
		name      string
		notUndone []string
		want      []string
		not       string
	}{
		{"undone", nil, []string{"what it had created was removed, a retry starts clean", "MATERIALIZED VIEW hubble.mv: division by zero"}, "Not undone"},
		{"not all undone", []string{"table hubble.t: canceling statement due to lock timeout"}, []string{
			"its undo could not remove or put back 1 objects (see below): remove them before a retry",
			"Not undone:\n  table hubble.t: canceling statement due to lock timeout"}, "a retry starts clean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			res := engine.RestoreResult{Issues: []engine.RestoreIssue{stop.Issue}, NotUndone: tt.notUndone}
			printSummary(&b, Options{Archive: "a.tar.gz"}, m, res, errors.Join(stop))
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("summary does not say %q:\n%s", w, b.String())
				}
			}
			if strings.Contains(b.String(), tt.not) {
				t.Errorf("summary says %q:\n%s", tt.not, b.String())
			}
		})
	}
}

func TestPrintDeadRestore(t *testing.T) {
	started := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		dr   *engine.DeadRestore
		plan bool
		want []string
	}{
		{"none", nil, false, nil},
		{"undone", &engine.DeadRestore{PID: 42, Started: started, Removed: []string{"function h.fmt_amount(numeric)"}, PutBack: []string{`TABLE "h"."activity"`}}, false,
			[]string{"A restore into schema h died (process 42, started 2026-11-30T09:00:00Z); what it left was removed first:\n  function h.fmt_amount(numeric)\n",
				`Tables it had set aside, put back: TABLE "h"."activity"`}},
		{"plan", &engine.DeadRestore{PID: 42, Started: started, Removed: []string{"table h.t"}}, true,
			[]string{"what it left would be removed first:\n  table h.t\n"}},
		{"finished", &engine.DeadRestore{PID: 42, Started: started, Finished: true}, false,
			[]string{"died (process 42, started 2026-11-30T09:00:00Z) after finishing its work: nothing of it to undo."}},
		{"nothing committed", &engine.DeadRestore{PID: 42, Started: started}, false,
			[]string{"before committing anything: nothing of it to undo."}},
		{"not undone", &engine.DeadRestore{PID: 42, Started: started, NotUndone: []string{"table h.t: canceling statement due to lock timeout"}}, false,
			[]string{"could not be undone (remove it, then restore again):\n  table h.t: canceling statement due to lock timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			printDeadRestore(&b, "h", tt.dr, tt.plan)
			if tt.want == nil && b.Len() > 0 {
				t.Errorf("printed %q for no dead restore", b.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("does not say %q:\n%s", w, b.String())
				}
			}
		})
	}
}
