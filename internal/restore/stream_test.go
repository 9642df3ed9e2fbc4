package restore_test

import (
	"context"
	"errors"
	"os"
	"path"
	"strings"
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/archive"
	"github.com/hubble/hubble-applianceapi/internal/pgtest"
	"github.com/hubble/hubble-applianceapi/internal/restore"
)

// streamSource is a Hubble-like schema whose gl_budget is most of the data,
// with its archive (indexed: written by the backup pipeline).
func streamSource(t *testing.T) (src, arch string) {
	t.Helper()
	src = pgtest.NewDB(t)
	if err := pgtest.GenerateBenchOneBig(testCtx(t), src, "hubble", 3<<20, 1<<20, nil); err != nil {
		t.Fatal(err)
	}
	return src, makeArchive(t, src, "hubble", false)
}

func freshTarget(t *testing.T) string {
	t.Helper()
	dst := pgtest.NewDB(t)
	if err := pgtest.CreateERP(testCtx(t), dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// scriptBytes is the size of the archive's files other than the tables.
func scriptBytes(t *testing.T, arch string) (m *archive.Manifest, n int64) {
	t.Helper()
	f, err := os.Open(arch)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	ar, err := archive.OpenIndexed(f, fi.Size(), archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	m = ar.Manifest()
	for _, file := range m.Files {
		n += file.Bytes
	}
	return m, n
}

// TestRestorer_Run_streamed: an indexed archive restores exactly, its
// tables never written to temp_dir: a temp_dir with room for the scripts
// only is enough, and the restore passes with the tables held until the
// verdict (the default), or verified first (more tables than may be held).
func TestRestorer_Run_streamed(t *testing.T) {
	src, arch := streamSource(t)
	m, scripts := scriptBytes(t, arch)
	if m.TotalBytes() < 10*scripts {
		t.Fatalf("the data (%d bytes) should dwarf the scripts (%d bytes)", m.TotalBytes(), scripts)
	}
	for _, maxHeld := range []int{500, 1} {
		t.Run(map[int]string{500: "held", 1: "verified first"}[maxHeld], func(t *testing.T) {
			defer restore.SetMaxHeldTables(maxHeld)()
			dst := freshTarget(t)
			f := newFixture(t, dst, arch)
			f.opts.MaxBytes = scripts + 64<<10
			if _, err := f.run(t); err != nil {
				t.Fatalf("Run() error = %v", err)
			}
			assertSame(t, stateOf(t, src, "hubble"), stateOf(t, dst, "hubble"))
		})
	}
}

// TestRestorer_Run_streamedDamage: a damaged table in an indexed archive
// is found while it loads; the restore is refused as for any damaged
// archive, and the database is left as it was: nothing of the restore was
// ever committed (the schema it created is gone, and temp_dir is empty).
func TestRestorer_Run_streamedDamage(t *testing.T) {
	_, arch := streamSource(t)
	m, _ := scriptBytes(t, arch)
	raw, err := os.ReadFile(arch)
	if err != nil {
		t.Fatal(err)
	}
	// The middle of gl_budget's last content member (a flipped bit makes
	// its deflate data corrupt, or its CRC-32 wrong).
	var off int64
	target := path.Join(archive.DirDatabase, "gl_budget.hubble")
	for _, e := range m.Index {
		off += e.Header.Compressed
		for i, c := range e.Content {
			if e.Path == target && i == len(e.Content)-1 {
				raw[off+c.Compressed/2] ^= 0x10
			}
			off += c.Compressed
		}
	}
	for _, cont := range []bool{false, true} {
		t.Run(map[bool]string{false: "stop", true: "continue on error"}[cont], func(t *testing.T) {
			p := t.TempDir() + "/hubble_schema_backup_2024_01_01_00_00_00.tar.gz"
			if err := os.WriteFile(p, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			dst := freshTarget(t)
			f := newFixture(t, dst, p)
			f.opts.ContinueOnError = cont
			_, err := f.run(t)
			// A flipped bit makes the member corrupt, or inflate to more
			// than the index declares: damaged, or refused as too large.
			if !errors.Is(err, archive.ErrDamaged) && !errors.Is(err, archive.ErrTooLarge) {
				t.Fatalf("Run() error = %v, want ErrDamaged or ErrTooLarge", err)
			}
			for _, s := range []string{"refused", "gl_budget.hubble"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Run() error = %q, want it to say %q", err, s)
				}
			}
			tables, err := pgtest.Tables(context.Background(), dst, "hubble")
			if err != nil || len(tables) != 0 {
				t.Errorf("after the refusal schema hubble holds %v (%v)", tables, err)
			}
		})
	}
}
