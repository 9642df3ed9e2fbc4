package jobs

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestManager_Fail(t *testing.T) {
	ctx := context.Background()
	store, _ := openTestStore(t)
	var fin recorder
	m := startManager(t, store, newFakeWork().Work, Options{OnFinished: fin.add})
	msg := "Directory '/import/dbbackup' does not exist."
	j, err := m.Fail(ctx, "api", msg)
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != StatusError || j.Message != msg || !ValidID(j.ID) || j.FinishedAt.IsZero() {
		t.Errorf("Fail = %+v", j)
	}
	got, err := m.Get(j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(j, got); diff != "" {
		t.Errorf("Get after Fail (-want +got):\n%s", diff)
	}
	if f := fin.waitN(t, 1); len(f) != 1 || f[0].ID != j.ID {
		t.Errorf("OnFinished = %+v", f)
	}
	// A failed pre-flight does not occupy a slot.
	if q, e := m.Counts(); q != 0 || e != 0 {
		t.Errorf("Counts = %d, %d", q, e)
	}
}
