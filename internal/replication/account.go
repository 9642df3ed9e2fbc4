package replication

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// account is who the commands run as.
type account struct {
	name string
	home string
	uid  uint32
	gid  uint32
	// groups are the supplementary groups of a switched-to user.
	groups []uint32
	// cred switches to the user; nil when the commands run as ourselves.
	cred *syscall.Credential
}

// account resolves who the commands run as: Tool.User, with its groups,
// when we run as root; ourselves otherwise (a non-root service cannot switch
// users).
func (t Tool) account() (*account, error) {
	if t.User == "" || os.Geteuid() != 0 {
		return current()
	}
	u, err := user.Lookup(t.User)
	if err != nil {
		return nil, fmt.Errorf("replication user %s: %w", t.User, err)
	}
	a, err := fromUser(u)
	if err != nil {
		return nil, err
	}
	gids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("replication user %s: groups: %w", t.User, err)
	}
	for _, g := range gids {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("replication user %s: group id %q", t.User, g)
		}
		if !slices.Contains(a.groups, uint32(n)) {
			a.groups = append(a.groups, uint32(n))
		}
	}
	a.cred = &syscall.Credential{Uid: a.uid, Gid: a.gid, Groups: a.groups}
	return a, nil
}

func current() (*account, error) {
	u, err := user.Current()
	if err != nil {
		// No passwd entry (a container's arbitrary uid): still ourselves.
		return &account{name: strconv.Itoa(os.Getuid()), home: os.Getenv("HOME"),
			uid: uint32(os.Getuid()), gid: uint32(os.Getgid())}, nil
	}
	a, err := fromUser(u)
	if err != nil {
		return nil, err
	}
	if h := os.Getenv("HOME"); h != "" {
		a.home = h
	}
	return a, nil
}

func fromUser(u *user.User) (*account, error) {
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("replication user %s: non-numeric uid/gid", u.Username)
	}
	return &account{name: u.Username, home: u.HomeDir, uid: uint32(uid), gid: uint32(gid)}, nil
}

// handOver gives the switched-to user the folder (and files) it works in,
// private to it, after checking it can reach them: every folder above must
// let it through. Running as ourselves there is nothing to hand over.
func (a *account) handOver(dir string, files ...string) error {
	if a.cred == nil {
		return nil
	}
	if err := a.reach(dir); err != nil {
		return err
	}
	if err := os.Chown(dir, int(a.uid), int(a.gid)); err != nil {
		return fmt.Errorf("hand folder %s to replication user %s: %w", dir, a.name, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("hand folder %s to replication user %s: %w", dir, a.name, err)
	}
	for _, f := range files {
		if err := os.Chown(f, int(a.uid), int(a.gid)); err != nil {
			return fmt.Errorf("hand file %s to replication user %s: %w", f, a.name, err)
		}
	}
	return nil
}

// takeBack makes a folder handOver gave away ours again.
func (a *account) takeBack(dir string) error {
	if a.cred == nil {
		return nil
	}
	if err := os.Chown(dir, os.Geteuid(), os.Getegid()); err != nil {
		return fmt.Errorf("take folder %s back from replication user %s: %w", dir, a.name, err)
	}
	return nil
}

// reach checks that the user may search every folder above dir, so the
// command can start there; the error names the folder to open and how.
func (a *account) reach(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for p := filepath.Dir(abs); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("replication user %s: %w", a.name, err)
		}
		if !a.canSearch(fi) {
			return fmt.Errorf("replication user %s cannot reach %s: %s is %v owned by uid %d; let it through (e.g. chmod o+x %s) or choose another temp_dir",
				a.name, dir, p, fi.Mode().Perm(), owner(fi), p)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

func (a *account) canSearch(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true // cannot tell: let the command's own error speak
	}
	perm := fi.Mode().Perm()
	switch {
	case st.Uid == a.uid:
		return perm&0o100 != 0
	case st.Gid == a.gid || slices.Contains(a.groups, st.Gid):
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}

func owner(fi fs.FileInfo) uint32 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid
	}
	return 0
}

// defaultPath is the command's PATH when we have none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// environ is the commands' whole environment (SPEC section 3): PATH, LANG,
// LC_* and TZ from ours, the user's HOME, USER and LOGNAME, then extra
// (replication.env). Nothing else of ours (PGPASSWORD, HUBBLE_* holding a
// DSN with its password, ...) ever reaches the tool, which may run as
// another user able to read its own /proc/PID/environ.
func environ(ours []string, a *account, extra map[string]string) []string {
	var env []string
	hasPath := false
	for _, kv := range ours {
		k, _, _ := strings.Cut(kv, "=")
		if k == "PATH" || k == "LANG" || k == "TZ" || strings.HasPrefix(k, "LC_") {
			env = append(env, kv)
			hasPath = hasPath || k == "PATH"
		}
	}
	if !hasPath {
		env = append(env, "PATH="+defaultPath)
	}
	home := a.home
	if home == "" {
		home = "/"
	}
	env = append(env, "HOME="+home, "USER="+a.name, "LOGNAME="+a.name)
	names := make([]string, 0, len(extra))
	for k := range extra {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		env = append(env, k+"="+extra[k]) // os/exec keeps the last of duplicates
	}
	return env
}
