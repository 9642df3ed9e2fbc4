package restore

import (
	"log/slog"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// JournalDir is where restores keep their write-ahead journals: in
// state_dir, which survives a reboot (a power loss is one of the deaths the
// journal is for). A restore run by a user who may not write there (or
// without a state_dir) keeps them in temp_dir, and says so: a restore by
// another user into the same schema does not see them there.
func JournalDir(stateDir, tempDir string, log *slog.Logger) string {
	dir := filepath.Join(stateDir, "restore-journal")
	if fi, err := os.Stat(stateDir); err == nil && fi.IsDir() {
		if err := os.MkdirAll(dir, 0o700); err == nil && unix.Access(dir, unix.W_OK) == nil {
			return dir
		}
	}
	alt := filepath.Join(tempDir, "restore-journal")
	log.Warn("state_dir is missing or not writable: the restore journal is kept in temp_dir", "state_dir", stateDir, "journal", alt)
	return alt
}
