package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"os/user"
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

// osAccount is an unprivileged system user created for one test.
type osAccount struct {
	name     string
	uid, gid int
	extraGID int // a supplementary group of its own
}

// newOSAccount creates a system user (useradd --system) with a unique name
// and a supplementary group, both removed when the test ends.
func newOSAccount(t *testing.T) osAccount {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	name := "hubrepl" + hex.EncodeToString(b)
	group := name + "x"
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("groupadd", "--system", group)
	t.Cleanup(func() { exec.Command("groupdel", group).Run() })
	run("useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
		"--user-group", "--groups", group, name)
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v\n%s", name, err, out)
		}
	})
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		t.Fatal(err)
	}
	a := osAccount{name: name}
	a.uid, _ = strconv.Atoi(u.Uid)
	a.gid, _ = strconv.Atoi(u.Gid)
	a.extraGID, _ = strconv.Atoi(g.Gid)
	return a
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
