package backup

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"github.com/hubble/hubble-applianceapi/internal/msg"
)

// FS is the seam for the filesystem queries of the pre-flight checks, so
// tests can provoke what a healthy machine cannot (a failing statfs).
type FS interface {
	Stat(path string) (fs.FileInfo, error)
	// FreeBytes is the space available to us on path's filesystem.
	FreeBytes(path string) (uint64, error)
}

// OSFS is the real filesystem.
type OSFS struct{}

// Stat is os.Stat.
func (OSFS) Stat(path string) (fs.FileInfo, error) { return os.Stat(path) }

// FreeBytes asks statfs for the blocks available to unprivileged users.
func (OSFS) FreeBytes(path string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// Preflight runs the cheap checks (no database): both directories exist and
// have minFreeMB free. backup_dir is never created: it is usually an NFS
// mount, and creating it would hide an unmounted share.
func Preflight(fsys FS, backupDir, tempDir string, minFreeMB int64) error {
	for _, dir := range []string{backupDir, tempDir} {
		fi, err := fsys.Stat(dir)
		if err != nil || !fi.IsDir() {
			if err == nil || errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
				return msg.NoDirectory(dir)
			}
			return msg.UnknownDrive(dir, err)
		}
	}
	for _, dir := range []string{backupDir, tempDir} {
		free, err := fsys.FreeBytes(dir)
		if err != nil {
			return msg.UnknownDrive(dir, err)
		}
		if leftMB := int64(free >> 20); leftMB < minFreeMB {
			return msg.NotEnoughSpace(dir, minFreeMB, leftMB)
		}
	}
	return nil
}
