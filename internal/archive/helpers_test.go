package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// sample is a small archive with the SPEC layout and its manifest.
type sample struct {
	data     []byte
	manifest *Manifest
	files    map[string][]byte // every regular file, manifest.json included
}

// sampleFiles are the contents of a small archive, by path.
func sampleFiles() (tables map[string][]byte, other map[string][]byte) {
	tables = map[string][]byte{
		DirDatabase + "/gl_budget.hubble": tableRows(1, 300),
		DirDatabase + "/ap_budget.hubble": tableRows(2, 40),
		DirDatabase + "/empty.hubble":     {},
		// Longer than USTAR's 100-byte name field: needs a PAX record.
		DirDatabase + "/" + DataFileName("hubble", strings.Repeat("Long_Name-", 12), map[string]bool{}): tableRows(3, 5),
	}
	other = map[string][]byte{
		CopyInFile:      []byte("\\set ON_ERROR_STOP on\n\\copy hubble.gl_budget from 'gl_budget.hubble'\n"),
		CopyOutFile:     []byte("\\copy hubble.gl_budget to 'gl_budget.hubble'\n"),
		ReplicationFile: []byte(`{"tasks":[]}` + "\n"),
	}
	return tables, other
}

// tableRows returns COPY text rows of realistic entropy.
func tableRows(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	accounts := []string{"4000-100", "4000-200", "5100-300", "6100-010", "7200-999"}
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%d\t%s\t2024-%02d-01\t%d.%02d\tline %d\\twith tab\t\\N\n",
			i, accounts[rng.IntN(len(accounts))], 1+rng.IntN(12), rng.IntN(1000000), rng.IntN(100), rng.IntN(1<<30))
	}
	return b.Bytes()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// newManifest returns a manifest for the given table and other files, in
// format 1 (no index); Writer.Finish turns it into the current format.
func newManifest(tables, other map[string][]byte) *Manifest {
	m := &Manifest{
		FormatVersion: formatNoIndex,
		Tool:          "hubble-applianceapi",
		ToolVersion:   "test",
		Engine:        "postgresql",
		ServerVersion: "15.14",
		ClientVersion: "15.14",
		Database:      "hubble",
		Schema:        "hubble",
		SnapshotTime:  time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		CreatedTime:   time.Date(2025, 1, 2, 3, 4, 6, 0, time.UTC),
	}
	for _, p := range sortedKeys(tables) {
		table := strings.TrimSuffix(strings.TrimPrefix(p, DirDatabase+"/"), ".hubble")
		m.Tables = append(m.Tables, Table{
			Name: QualifiedName("hubble", table), Schema: "hubble", Table: table,
			File: p, Rows: int64(bytes.Count(tables[p], []byte("\n"))), Bytes: int64(len(tables[p])), SHA256: sha(tables[p]),
		})
	}
	for _, p := range sortedKeys(other) {
		m.Files = append(m.Files, File{Path: p, Bytes: int64(len(other[p])), SHA256: sha(other[p])})
	}
	return m
}

func sortedKeys(m map[string][]byte) []string {
	return slices.Sorted(maps.Keys(m))
}

// writeSample writes the sample archive with Writer: directories first,
// files streamed from disk (tables) or memory (scripts), manifest last.
func writeSample(t testing.TB) sample {
	t.Helper()
	tables, other := sampleFiles()
	return writeArchive(t, tables, other)
}

// writeArchive writes an archive of tables (streamed from disk) and other
// files (from memory) with Writer.
func writeArchive(t testing.TB, tables, other map[string][]byte) sample {
	t.Helper()
	ctx := context.Background()
	stage := t.TempDir()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, 6)
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]File{}
	for p := range tables {
		all[p] = File{}
	}
	for p := range other {
		all[p] = File{}
	}
	for _, d := range slices.Sorted(maps.Keys(parents(all))) {
		if err := w.AddDir(d); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range sortedKeys(other) {
		if _, err := w.AddBytes(ctx, p, other[p]); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range sortedKeys(tables) {
		src := filepath.Join(stage, filepath.Base(p))
		if err := os.WriteFile(src, tables[p], 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := w.AddFile(ctx, p, src)
		if err != nil {
			t.Fatal(err)
		}
		if f.SHA256 != sha(tables[p]) || f.Bytes != int64(len(tables[p])) {
			t.Fatalf("AddFile(%s) = %+v, want %d bytes sha %s", p, f, len(tables[p]), sha(tables[p]))
		}
	}
	m := newManifest(tables, other)
	if err := w.Finish(ctx, m); err != nil {
		t.Fatal(err)
	}
	mj, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{ManifestName: mj}
	for k, v := range tables {
		files[k] = v
	}
	for k, v := range other {
		files[k] = v
	}
	return sample{data: buf.Bytes(), manifest: m, files: files}
}

// rawEntry is a tar entry of a hand-built (possibly hostile) archive.
type rawEntry struct {
	hdr  tar.Header
	body []byte
}

func reg(name string, body []byte) rawEntry {
	return rawEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))}, body: body}
}

func dirEntry(name string) rawEntry {
	return rawEntry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755}}
}

// manifestEntry encodes m (validated) as the manifest.json entry.
func manifestEntry(t testing.TB, m *Manifest) rawEntry {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return reg(ManifestName, b)
}

// rawArchive builds a tar.gz from entries with the standard library, so
// that fixtures do not depend on the Writer under test: one gzip member,
// no index, as release 0.1.0 wrote (and as a hostile archive may be).
func rawArchive(t testing.TB, entries ...rawEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("write header %s: %v", h.Name, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatalf("write %s: %v", h.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sampleEntries are the sample's entries for rawArchive, manifest last.
func sampleEntries(t testing.TB) ([]rawEntry, *Manifest) {
	tables, other := sampleFiles()
	m := newManifest(tables, other)
	entries := []rawEntry{dirEntry(DirReplication), dirEntry(DirDatabase)}
	for _, p := range sortedKeys(other) {
		entries = append(entries, reg(p, other[p]))
	}
	for _, p := range sortedKeys(tables) {
		entries = append(entries, reg(p, tables[p]))
	}
	return entries, m
}

// readTree returns every regular file under dir by slash path, failing on
// anything that is neither a file nor a directory.
func readTree(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.IsDir():
			return nil
		case !d.Type().IsRegular():
			return fmt.Errorf("%s: not a regular file (%v)", rel, d.Type())
		}
		b, err := os.ReadFile(p)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
