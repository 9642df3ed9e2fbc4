//go:build faultpoints

package postgres

import (
	"context"
	"os"
	"syscall"
)

// HUBBLE_TEST_KILL_AT=objects|finished makes the process kill itself with
// SIGKILL when a restore reaches that point: a kill -9 at an exact moment,
// for tests of what the next restore does about it.
func init() {
	at := os.Getenv("HUBBLE_TEST_KILL_AT")
	if at == "" {
		return
	}
	faultPoint = func(_ context.Context, point string) {
		if point == at {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
}
