package archive

import (
	"bytes"
	"context"
	"os"
	"testing"
)

// legacyArchive was written by release 0.1.0: one gzip member, manifest.json
// last, no index (testdata/archives/README.md).
const legacyArchive = "../../testdata/archives/v1_0.1.0.tar.gz"

func readLegacy(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(legacyArchive)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerify_legacyArchive(t *testing.T) {
	rep, err := Verify(context.Background(), bytes.NewReader(readLegacy(t)), Limits{})
	if err != nil {
		t.Fatalf("Verify of a 0.1.0 archive: %v", err)
	}
	if rep.Manifest == nil || len(rep.Manifest.Tables) != 11 || rep.Manifest.Schema != "rich" {
		t.Fatalf("manifest = %+v", rep.Manifest)
	}
}
