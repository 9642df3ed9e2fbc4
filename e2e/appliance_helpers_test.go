package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// requireRoot fails (never skips) when the tests do not run as root: the
// appliance's shape (a root daemon switching to an unprivileged user) can
// only be reproduced as root, and CI runs as root.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test reproduces the appliance (a root daemon, an OS user it creates for the replication tool) and must run as root, as CI does: run it with sudo")
	}
}

// rootFolder makes a folder as an appliance administrator would: owned by
// root, mode 0755, writable by no one else.
func rootFolder(t *testing.T, parent, name string) string {
	t.Helper()
	p := filepath.Join(parent, name)
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	return p
}

// procInfo is what a test can see of a process: its argv, its environment
// and the user it runs as.
type procInfo struct {
	cmdline, environ []byte
	uid              int
}

func readProc(pid int) (procInfo, bool) {
	dir := "/proc/" + strconv.Itoa(pid) + "/"
	cmd, err1 := os.ReadFile(dir + "cmdline")
	env, err2 := os.ReadFile(dir + "environ")
	st, err3 := os.ReadFile(dir + "status")
	if err1 != nil || err2 != nil || err3 != nil {
		return procInfo{}, false // ended meanwhile
	}
	p := procInfo{cmdline: cmd, environ: env, uid: -1}
	for _, line := range bytes.Split(st, []byte("\n")) {
		if f := strings.Fields(string(line)); len(f) >= 2 && f[0] == "Uid:" {
			p.uid, _ = strconv.Atoi(f[1])
		}
	}
	return p, true
}

// statUID is the owner of a file.
func statUID(fi os.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}
