package etc_test

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPackage_Deb builds the Debian package, checks what it holds, then
// installs, runs, removes and purges it on this machine.
func TestPackage_Deb(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the package test installs with dpkg and must run as root (as CI does)")
	}
	for _, tool := range []string{"dpkg", "dpkg-deb", "dpkg-query", "systemd-analyze", "make", "logrotate", "useradd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: run scripts/deps.sh (%v)", tool, err)
		}
	}
	deb := buildDeb(t)
	if !t.Run("contents", func(t *testing.T) { checkContents(t, deb) }) {
		return
	}
	t.Run("lifecycle", func(t *testing.T) { checkLifecycle(t, deb) })
}

// checkContents inspects the package with dpkg-deb -I, -c and -x.
func checkContents(t *testing.T, deb string) {
	root := repoRoot(t)

	fields := controlFields(t, deb)
	for k, want := range map[string]string{
		"Package": pkgName, "Version": testVersion, "Architecture": "amd64", "Section": "admin",
	} {
		if fields[k] != want {
			t.Errorf("control %s = %q, want %q", k, fields[k], want)
		}
	}
	if !strings.Contains(fields["Depends"], "postgresql-client") {
		t.Errorf("control Depends = %q, want postgresql-client (pg_dump, psql)", fields["Depends"])
	}

	// The conffile list: exactly the configuration, so upgrades and removal
	// keep the administrator's edits.
	conffiles := strings.Fields(run(t, "", nil, "dpkg-deb", "-I", deb, "conffiles"))
	slices.Sort(conffiles)
	if diff := cmp.Diff([]string{configPath, logrotatePath}, conffiles); diff != "" {
		t.Errorf("conffiles (-want +got):\n%s", diff)
	}
	// The maintainer scripts are the ones in etc/.
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		got := run(t, "", nil, "dpkg-deb", "-I", deb, s)
		want, err := os.ReadFile(filepath.Join(root, "etc", s))
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("control script %s differs from etc/%s", s, s)
		}
	}
	if got := run(t, "", nil, "dpkg-deb", "-I", deb); strings.Contains(got, "preinst") {
		t.Errorf("unexpected preinst in the package:\n%s", got)
	}

	// Exactly the paths of SPEC section 1 (and their parent directories).
	var paths []string
	for _, line := range strings.Split(strings.TrimSpace(run(t, "", nil, "dpkg-deb", "-c", deb)), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c line %q", line)
		}
		p := strings.TrimSuffix(strings.TrimPrefix(f[5], "."), "/")
		if p != "" && !slices.Contains([]string{"/etc", "/etc/logrotate.d", "/lib", "/lib/systemd", "/lib/systemd/system", "/usr", "/usr/bin", "/usr/libexec", "/var", "/var/lib"}, p) {
			paths = append(paths, p)
		}
	}
	wantPaths := []string{"/etc/hubble-applianceapi", configPath, logrotatePath, unitPath, linkPath,
		"/usr/libexec/hubble-applianceapi", binPath, stateDir}
	slices.Sort(wantPaths)
	slices.Sort(paths)
	if diff := cmp.Diff(wantPaths, paths); diff != "" {
		t.Errorf("package paths (-want +got):\n%s", diff)
	}

	x := t.TempDir()
	run(t, "", nil, "dpkg-deb", "-x", deb, x)
	checkModes(t, x)

	target, err := os.Readlink(filepath.Join(x, linkPath))
	if err != nil {
		t.Errorf("%s: %v", linkPath, err)
	} else if target != binPath {
		t.Errorf("%s -> %s, want -> %s", linkPath, target, binPath)
	}
	for src, dst := range map[string]string{"config.yaml": configPath, "hubble-applianceapi.service": unitPath, "logrotate": logrotatePath} {
		want, err := os.ReadFile(filepath.Join(root, "etc", src))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(x, dst))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from etc/%s", dst, src)
		}
	}

	// One static binary: no ELF interpreter, no shared libraries.
	f, err := elf.Open(filepath.Join(x, binPath))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s is dynamically linked (has PT_INTERP)", binPath)
		}
	}
	out := run(t, "", nil, filepath.Join(x, binPath), "version")
	if !strings.Contains(out, testVersion) {
		t.Errorf("%s version = %q, want it to name %s", binPath, out, testVersion)
	}
}

// checkModes checks the modes the issue asks for under an extracted or
// installed root: binary 0755, config 0640 or stricter, state dir 0750.
func checkModes(t *testing.T, root string) {
	t.Helper()
	if m := mode(t, filepath.Join(root, binPath)); !m.IsRegular() || m.Perm() != 0o755 {
		t.Errorf("%s mode %v, want -rwxr-xr-x", binPath, m)
	}
	if m := mode(t, filepath.Join(root, linkPath)); m.Type() != os.ModeSymlink {
		t.Errorf("%s mode %v, want a symbolic link", linkPath, m)
	}
	if m := mode(t, filepath.Join(root, configPath)); !m.IsRegular() || m.Perm()&^0o640 != 0 {
		t.Errorf("%s mode %v, want 0640 or stricter", configPath, m)
	}
	if m := mode(t, filepath.Join(root, stateDir)); !m.IsDir() || m.Perm() != 0o750 {
		t.Errorf("%s mode %v, want drwxr-x---", stateDir, m)
	}
	for _, p := range []string{unitPath, logrotatePath} {
		if m := mode(t, filepath.Join(root, p)); !m.IsRegular() || m.Perm() != 0o644 {
			t.Errorf("%s mode %v, want -rw-r--r--", p, m)
		}
	}
}
