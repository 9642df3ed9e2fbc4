// Package etc_test checks the Debian package built from this directory: its
// contents and modes, and a real install, start, remove and purge on the
// test machine (root, no running systemd).
package etc_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/hubble/hubble-applianceapi/internal/pgtest"
)

func TestMain(m *testing.M) {
	code := pgtest.Run(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}
