package daemon

import "github.com/hubble/hubble-applianceapi/internal/fscheck"

// SetChecker replaces the filesystem checks of d (tests simulate a hung
// mount with it).
func SetChecker(d *Daemon, c *fscheck.Checker) {
	d.fs = c
	d.pipeline.FS = c
}
