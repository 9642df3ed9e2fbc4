package restore_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/archive"
	"github.com/hubble/hubble-applianceapi/internal/pgtest"
)

type tarEntry struct {
	hdr  tar.Header
	data []byte
}

// readArchive returns the entries of a real archive.
func readArchive(t *testing.T, p string) []tarEntry {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var out []tarEntry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntry{hdr: *h, data: data})
	}
}

// writeArchive writes entries as a .tar.gz and returns its bytes.
func writeArchive(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == tar.TypeReg || h.Typeflag == 0 {
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
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

func file(name string, data []byte) tarEntry {
	return tarEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644}, data: data}
}

// withManifest rewrites manifest.json through edit.
func withManifest(t *testing.T, entries []tarEntry, edit func(m *archive.Manifest)) []tarEntry {
	t.Helper()
	out := append([]tarEntry(nil), entries...)
	for i, e := range out {
		if e.hdr.Name != archive.ManifestName {
			continue
		}
		var m archive.Manifest
		if err := json.Unmarshal(e.data, &m); err != nil {
			t.Fatal(err)
		}
		// writeArchive writes one gzip member without the index trailer,
		// as release 0.1.0 did: the manifest goes back to that format.
		m.FormatVersion, m.Index = 1, nil
		edit(&m)
		b, err := json.MarshalIndent(&m, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		out[i] = file(archive.ManifestName, b)
	}
	return out
}

// firstTable returns the index of the first data file entry.
func firstTable(t *testing.T, entries []tarEntry) int {
	for i, e := range entries {
		if strings.HasPrefix(e.hdr.Name, archive.DirDatabase+"/") && !strings.Contains(e.hdr.Name, "copy.") &&
			!strings.HasSuffix(e.hdr.Name, ".dump") && len(e.data) > 10 {
			return i
		}
	}
	t.Fatal("no data file")
	return 0
}

func TestRestorer_Run_HostileArchives(t *testing.T) {
	src := pgtest.NewDB(t)
	if err := pgtest.CreateObjectRich(testCtx(t), src, "hubble"); err != nil {
		t.Fatal(err)
	}
	good := makeArchive(t, src, "hubble", false)
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	entries := readArchive(t, good)
	edit := func(f func(es []tarEntry) []tarEntry) []byte {
		es := make([]tarEntry, len(entries))
		for i, e := range entries {
			es[i] = tarEntry{hdr: e.hdr, data: append([]byte(nil), e.data...)}
		}
		return writeArchive(t, f(es))
	}
	bomb := func() []byte {
		zeros := make([]byte, 64<<20)
		return edit(func(es []tarEntry) []tarEntry {
			return append([]tarEntry{file("DatabaseBackup/zeros.hubble", zeros)}, es...)
		})
	}
	tests := []struct {
		name    string
		archive func() []byte
		maxMB   int64
		want    []string
		kind    error
	}{
		{"dot-dot entry", func() []byte {
			return edit(func(es []tarEntry) []tarEntry { return append([]tarEntry{file("../evil", []byte("x"))}, es...) })
		}, 0, []string{"../evil", "'..' in path"}, archive.ErrUnsafeEntry},
		{"absolute path", func() []byte {
			return edit(func(es []tarEntry) []tarEntry { return append([]tarEntry{file("/tmp/evil", []byte("x"))}, es...) })
		}, 0, []string{"/tmp/evil", "absolute path"}, archive.ErrUnsafeEntry},
		{"symlink", func() []byte {
			return edit(func(es []tarEntry) []tarEntry {
				return append([]tarEntry{{hdr: tar.Header{Name: "DatabaseBackup/link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}}}, es...)
			})
		}, 0, []string{"DatabaseBackup/link", "symbolic link to /etc/passwd"}, archive.ErrUnsafeEntry},
		{"hardlink", func() []byte {
			return edit(func(es []tarEntry) []tarEntry {
				return append([]tarEntry{{hdr: tar.Header{Name: "DatabaseBackup/hard", Typeflag: tar.TypeLink, Linkname: "/etc/shadow"}}}, es...)
			})
		}, 0, []string{"DatabaseBackup/hard", "hard link to /etc/shadow"}, archive.ErrUnsafeEntry},
		{"truncated gzip", func() []byte { return raw[:len(raw)*2/3] }, 0, []string{"refused"}, archive.ErrDamaged},
		{"flipped byte", func() []byte {
			return edit(func(es []tarEntry) []tarEntry {
				i := firstTable(t, es)
				es[i].data[len(es[i].data)/2] ^= 0x01
				return es
			})
		}, 0, []string{"sha256 mismatch"}, archive.ErrDamaged},
		{"manifest lies about a size", func() []byte {
			i := firstTable(t, entries)
			name := entries[i].hdr.Name
			es := withManifest(t, entries, func(m *archive.Manifest) {
				for j := range m.Tables {
					if m.Tables[j].File == name {
						m.Tables[j].Bytes = 3
					}
				}
			})
			return writeArchive(t, es)
		}, 0, []string{"size mismatch"}, archive.ErrDamaged},
		{"gzip bomb", bomb, 8, []string{"exceeds the limit"}, archive.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "hubble_schema_backup_2024_01_01_00_00_00.tar.gz")
			if err := os.WriteFile(p, tt.archive(), 0o644); err != nil {
				t.Fatal(err)
			}
			// An unreachable database: any database work would fail with a
			// connection error instead of the archive's problem.
			f := newFixture(t, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1", p)
			f.opts.MaxBytes = tt.maxMB << 20
			_, err := f.run(t)
			if err == nil {
				t.Fatal("Run() accepted a hostile archive")
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("Run() error = %v, want errors.Is %v", err, tt.kind)
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Run() error = %q, want it to say %q", err, s)
				}
			}
		})
	}
}
