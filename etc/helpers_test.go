package etc_test

import (
	"bytes"
	"context"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	pkgName     = "hubble-applianceapi"
	testVersion = "0.0.1"

	// SPEC section 1.
	binPath    = "/usr/libexec/hubble-applianceapi/hubble-applianceapi"
	linkPath   = "/usr/bin/hubble-applianceapi"
	configPath = "/etc/hubble-applianceapi/config.yaml"
	stateDir   = "/var/lib/hubble-applianceapi"
	unitPath   = "/lib/systemd/system/hubble-applianceapi.service"
	// The logrotate rule for log_file (issue 9).
	logrotatePath = "/etc/logrotate.d/hubble-applianceapi"
)

// repoRoot is the module root: the tests run in etc/.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// run runs a command and fails the test with its output if it fails.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	out, err := runErr(dir, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func runErr(dir string, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// buildDeb builds the package the way `make deb` does (the Makefile's build
// target and its nfpm command on etc/nfpm.yaml), but into a temporary
// directory, so the checkout's bin/ and dist/ are left alone.
func buildDeb(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	work := t.TempDir()
	run(t, root, nil, "make", "-s", "build", "VERSION="+testVersion, "BIN="+filepath.Join(work, "bin", pkgName))
	// nfpm.yaml names its sources relative to the repository root
	// (bin/..., etc/...): give it a root with our bin/ and the real etc/.
	if err := os.Symlink(filepath.Join(root, "etc"), filepath.Join(work, "etc")); err != nil {
		t.Fatal(err)
	}
	// The exact nfpm command of the Makefile, so the test follows its version.
	nfpm := strings.Fields(run(t, root, nil, "make", "-s", "--no-print-directory",
		"--eval", "print-nfpm: ; @echo $(NFPM)", "print-nfpm"))
	if len(nfpm) == 0 {
		t.Fatal("Makefile: NFPM is empty")
	}
	dist := filepath.Join(work, "dist")
	if err := os.Mkdir(dist, 0o755); err != nil {
		t.Fatal(err)
	}
	args := append(nfpm[1:], "pkg", "--packager", "deb", "--config", "etc/nfpm.yaml", "--target", dist+"/")
	run(t, work, append(os.Environ(), "VERSION="+testVersion), nfpm[0], args...)
	debs, err := filepath.Glob(filepath.Join(dist, "*.deb"))
	if err != nil || len(debs) != 1 {
		t.Fatalf("want one .deb in %s, got %v (%v)", dist, debs, err)
	}
	return debs[0]
}

// controlFields parses the control file printed by dpkg-deb -f.
func controlFields(t *testing.T, deb string) map[string]string {
	t.Helper()
	fields := map[string]string{}
	var last string
	for _, line := range strings.Split(run(t, "", nil, "dpkg-deb", "-f", deb), "\n") {
		if line == "" {
			continue
		}
		if line[0] == ' ' && last != "" {
			fields[last] += "\n" + strings.TrimSpace(line)
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("control line %q", line)
		}
		last = k
		fields[k] = strings.TrimSpace(v)
	}
	return fields
}

// dpkgStatus is the package's status as dpkg-query reports it, "" when dpkg
// does not know it at all.
func dpkgStatus() string {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", pkgName).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// machineState lists what installing the package may touch: every path under
// systemd's and dpkg's helper state and the package's own locations. Equal
// listings before install and after purge mean the machine is as clean as
// before.
func machineState(t *testing.T) []string {
	t.Helper()
	var paths []string
	for _, root := range []string{
		"/etc/systemd", "/var/lib/systemd", "/etc/hubble-applianceapi", stateDir, logrotatePath,
		"/usr/libexec/hubble-applianceapi", linkPath, unitPath,
	} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return nil
				}
				return err
			}
			paths = append(paths, p)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(paths)
	return paths
}

// freePort returns a loopback port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// execStart returns the ExecStart= command line of a unit file, split into
// words (the unit uses no quoting).
func execStart(t *testing.T, unit string) []string {
	t.Helper()
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			return strings.Fields(v)
		}
	}
	t.Fatalf("%s has no ExecStart=", unit)
	return nil
}

// environWithout is os.Environ() without any HUBBLE_* variable (a developer's
// HUBBLE_TEST_DSN or HUBBLE_CONFIG must not steer the installed binary).
func environWithout(prefix string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			env = append(env, kv)
		}
	}
	return env
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func itoa(i int) string { return strconv.Itoa(i) }
