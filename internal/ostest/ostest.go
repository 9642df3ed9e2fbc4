// Package ostest owns the operating-system fixtures of the tests that
// reproduce the appliance's shape: folders as an administrator makes them
// (root's, 0755, not the world-open /tmp), unprivileged system accounts
// created for one test, and a child's peak memory measured from outside it.
// Each fixture is removed when its test ends.
package ostest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// AdminDir makes a folder as an appliance administrator would: owned by
// the test's user (root in CI), mode 0755 whatever the umask, writable by
// no one else. pattern is os.MkdirTemp's.
func AdminDir(t testing.TB, pattern string) string {
	t.Helper()
	d, err := os.MkdirTemp("", pattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// Account is an unprivileged system user created for one test.
type Account struct {
	Name     string
	UID, GID int
	ExtraGID int // its supplementary group; 0 if it has none
}

// SystemUser creates a system user (useradd --system, no home, no shell)
// named prefix + a random suffix, with a supplementary group of its own if
// extraGroup; both are removed when the test ends. It needs root.
func SystemUser(t testing.TB, prefix string, extraGroup bool) Account {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	name := prefix + hex.EncodeToString(b)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	useradd := []string{"useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
		"--shell", "/usr/sbin/nologin", "--user-group"}
	group := name + "x"
	if extraGroup {
		run("groupadd", "--system", group)
		t.Cleanup(func() { exec.Command("groupdel", group).Run() })
		useradd = append(useradd, "--groups", group)
	}
	run(append(useradd, name)...)
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v\n%s", name, err, out)
		}
	})
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	a := Account{Name: name}
	a.UID, _ = strconv.Atoi(u.Uid)
	a.GID, _ = strconv.Atoi(u.Gid)
	if extraGroup {
		g, err := user.LookupGroup(group)
		if err != nil {
			t.Fatal(err)
		}
		a.ExtraGID, _ = strconv.Atoi(g.Gid)
	}
	return a
}

// timeBin is GNU time (Debian package time, installed by scripts/deps.sh).
const timeBin = "/usr/bin/time"

// MeasuredCommand returns name args as a command run under GNU time, and a
// function that reads its peak resident set size in kB once it has run (0
// if GNU time wrote none). GNU time measures it because a child Go starts
// shares the test's memory until it execs, and Linux counts that in the
// child's own maximum.
func MeasuredCommand(t testing.TB, name string, args ...string) (*exec.Cmd, func() int64) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "rss")
	cmd := exec.Command(timeBin, append([]string{"-f", "%M", "-o", out, name}, args...)...)
	return cmd, func() int64 {
		b, err := os.ReadFile(out)
		if err != nil {
			return 0
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return 0
		}
		kb, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
		return kb
	}
}
