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
