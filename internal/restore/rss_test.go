package restore_test

import (
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/pgtest"
)

// TestCLI_Restore_MemoryBounded: a restore's memory does not grow with the
// largest table: its data streams from the archive to the server through
// fixed buffers. The largest table 4 times larger raises the peak RSS by
// less than 10 %, and it stays far under 150 MB (issue 11).
func TestCLI_Restore_MemoryBounded(t *testing.T) {
	rss := map[int64]int64{}
	for _, big := range []int64{16, 64} {
		src := pgtest.NewDB(t)
		if err := pgtest.GenerateBenchOneBig(testCtx(t), src, "hubble", big<<20, 1<<20, nil); err != nil {
			t.Fatal(err)
		}
		arch := makeArchive(t, src, "hubble", false)
		// The least of two runs: the garbage collector's timing moves a
		// single reading by a few MB.
		for range 2 {
			code, _, _, _, kb := runCLIRusage(t, erpDB(t), arch)
			if code != 0 {
				t.Fatalf("restore with a %d MB table: exit %d", big, code)
			}
			if r, ok := rss[big]; !ok || kb < r {
				rss[big] = kb
			}
		}
	}
	t.Logf("peak RSS: %d kB with a 16 MB table, %d kB with a 64 MB one", rss[16], rss[64])
	if rss[64] > rss[16]*11/10 {
		t.Errorf("peak RSS %d kB with a 64 MB table, %d kB with a 16 MB one: grows with the table", rss[64], rss[16])
	}
	if rss[64] > 150<<10 {
		t.Errorf("peak RSS %d kB, want under 150 MB", rss[64])
	}
}
