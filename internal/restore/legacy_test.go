package restore_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hubble/hubble-applianceapi/internal/pgtest"
)

// legacyArchive was written by release 0.1.0 (one gzip member, no index);
// see testdata/archives/README.md.
const legacyArchive = "../../testdata/archives/v1_0.1.0"

// TestRestorer_Run_legacyArchive: archives written by earlier releases
// still restore, exactly.
func TestRestorer_Run_legacyArchive(t *testing.T) {
	var want struct {
		Tables    map[string]string `json:"tables"`
		Sequences map[string]string `json:"sequences"`
	}
	b, err := os.ReadFile(legacyArchive + ".state.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	dst := pgtest.NewDB(t)
	if err := pgtest.CreateERP(ctx, dst); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, dst, legacyArchive+".tar.gz")
	res, err := f.run(t)
	if err != nil {
		t.Fatalf("restore of a 0.1.0 archive: %v", err)
	}
	if res.Database.Tables != 11 {
		t.Errorf("restored %d tables, want 11", res.Database.Tables)
	}
	got, err := pgtest.TableHashes(ctx, dst, "rich")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.Tables, got); diff != "" {
		t.Errorf("table contents differ from the source's (-source +restored):\n%s", diff)
	}
	seqs, err := pgtest.SequenceValues(ctx, dst, "rich")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.Sequences, seqs); diff != "" {
		t.Errorf("sequences differ from the source's (-source +restored):\n%s", diff)
	}
}
