package archive

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExtract_roundTrip(t *testing.T) {
	ctx := context.Background()
	s := writeSample(t)
	rep, err := Verify(ctx, bytes.NewReader(s.data), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Extract(ctx, bytes.NewReader(s.data), dir, rep.Manifest, Limits{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.files, readTree(t, dir)); diff != "" {
		t.Errorf("extracted tree (-want +got):\n%s", diff)
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if perm := fi.Mode().Perm(); perm&^0o750 != 0 || fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
			t.Errorf("%s: mode %v, want at most 0750 without special bits", p, fi.Mode())
		}
		if !d.IsDir() && fi.Mode().Perm()&0o111 != 0 {
			t.Errorf("%s: executable file mode %v", p, fi.Mode())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestExtract_refuses runs every damage case through Extract: each must be
// refused and leave the directory empty.
func TestExtract_refuses(t *testing.T) {
	_, intact := sampleEntries(t)
	for _, d := range damages() {
		t.Run(d.name, func(t *testing.T) {
			data := d.archive(t)
			// Extract with the manifest the archive carries when it has a
			// valid one (what a caller that skipped Verify would have).
			m, err := ReadManifest(context.Background(), bytes.NewReader(data), Limits{})
			if err != nil {
				m = intact
			}
			dir := t.TempDir()
			err = Extract(context.Background(), bytes.NewReader(data), dir, m, Limits{})
			if err == nil {
				t.Fatal("Extract succeeded")
			}
			for _, k := range d.kinds {
				if !errors.Is(err, k) {
					t.Errorf("error %q does not wrap %q", err, k)
				}
			}
			assertEmpty(t, dir)
		})
	}
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) > 0 {
		t.Errorf("%s not empty after a refused extraction: %v", dir, readTree(t, dir))
	}
}

func TestExtract_refusals(t *testing.T) {
	s := writeSample(t)
	gl := DirDatabase + "/gl_budget.hubble"
	tests := []struct {
		name string
		m    func() *Manifest
		lim  Limits
		kind error
		msg  string
	}{
		{"manifest differs from the archive's", func() *Manifest {
			m := *s.manifest
			m.Database = "other"
			return &m
		}, Limits{}, ErrDamaged, "manifest.json: differs from the manifest that was verified"},
		{"entry larger than the manifest declares", func() *Manifest {
			m := *s.manifest
			m.Tables = append([]Table(nil), m.Tables...)
			for i := range m.Tables {
				if m.Tables[i].File == gl {
					m.Tables[i].Bytes = 10
				}
			}
			return &m
		}, Limits{}, ErrTooLarge, gl + ": entry of"},
		{"entry not in the manifest", func() *Manifest {
			m := *s.manifest
			m.Files = nil
			return &m
		}, Limits{}, ErrUnsafeEntry, "not in manifest"},
		{"total past the limit", func() *Manifest { return s.manifest }, Limits{MaxBytes: 1000}, ErrTooLarge, "1000 bytes"},
		{"too many entries", func() *Manifest { return s.manifest }, Limits{MaxEntries: 4}, ErrTooLarge, "more than 4 entries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			err := Extract(context.Background(), bytes.NewReader(s.data), dir, tt.m(), tt.lim)
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Extract: %v, want %v mentioning %q", err, tt.kind, tt.msg)
			}
			assertEmpty(t, dir)
		})
	}
}

func TestExtract_target(t *testing.T) {
	s := writeSample(t)
	ctx := context.Background()
	notEmpty := t.TempDir()
	if err := os.WriteFile(filepath.Join(notEmpty, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Extract(ctx, bytes.NewReader(s.data), notEmpty, s.manifest, Limits{}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("Extract into a non-empty directory: %v", err)
	}
	if err := Extract(ctx, bytes.NewReader(s.data), filepath.Join(notEmpty, "x"), s.manifest, Limits{}); err == nil {
		t.Error("Extract into a file succeeded")
	}
	if err := Extract(ctx, bytes.NewReader(s.data), filepath.Join(notEmpty, "missing"), s.manifest, Limits{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Extract into a missing directory: %v", err)
	}
	if err := Extract(ctx, bytes.NewReader(s.data), t.TempDir(), nil, Limits{}); err == nil {
		t.Error("Extract without a manifest succeeded")
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	dir := t.TempDir()
	if err := Extract(canceled, bytes.NewReader(s.data), dir, s.manifest, Limits{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Extract with a canceled context: %v", err)
	}
	assertEmpty(t, dir)
}
