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
	data := readLegacy(t)
	for _, vf := range verifiers {
		rep, err := vf.verify(context.Background(), data, Limits{})
		if err != nil {
			t.Fatalf("%s of a 0.1.0 archive: %v", vf.name, err)
		}
		if rep.Manifest == nil || len(rep.Manifest.Tables) != 11 || rep.Manifest.Schema != "rich" || rep.Indexed {
			t.Fatalf("%s: report %+v", vf.name, rep)
		}
	}
	dir := t.TempDir()
	rep, err := VerifyExtract(context.Background(), bytes.NewReader(data), int64(len(data)), dir, Limits{})
	if err != nil {
		t.Fatalf("VerifyExtract of a 0.1.0 archive: %v", err)
	}
	got := readTree(t, dir)
	for p, f := range rep.Manifest.Expected() {
		if sha(got[p]) != f.SHA256 {
			t.Errorf("%s: extracted content differs from the manifest's", p)
		}
	}
}
