package daemon

import (
	"github.com/hubble/hubble-applianceapi/internal/backup"
	"github.com/hubble/hubble-applianceapi/internal/fscheck"
)

// SetChecker replaces the filesystem checks of d (tests simulate a hung
// mount with it).
func SetChecker(d *Daemon, c *fscheck.Checker) {
	d.fs = c
	d.pipeline.FS = c
}

// SetPipeline lets a test adjust d's backup pipeline (clock, target)
// before it serves.
func SetPipeline(d *Daemon, adjust func(*backup.Pipeline)) { adjust(d.pipeline) }
