package pgtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ErrNoBinaries is returned when the PostgreSQL server binaries cannot be found.
var ErrNoBinaries = errors.New("postgresql server binaries (initdb, pg_ctl) not found: " +
	"install the PostgreSQL server (e.g. apt-get install postgresql) or set PG_BINDIR")

// BinDir returns the directory holding initdb and pg_ctl: $PG_BINDIR, else the
// newest /usr/lib/postgresql/<major>/bin, else the directory of initdb on PATH.
func BinDir() (string, error) {
	if d := os.Getenv("PG_BINDIR"); d != "" {
		if !isExec(filepath.Join(d, "initdb")) {
			return "", fmt.Errorf("PG_BINDIR %s: no initdb: %w", d, ErrNoBinaries)
		}
		return d, nil
	}
	if d := newestDebianBinDir("/usr/lib/postgresql"); d != "" {
		return d, nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", ErrNoBinaries
}

// Bin returns the path of a PostgreSQL program (pg_dump, psql, ...) from
// BinDir, so client and server versions match; it falls back to PATH.
func Bin(name string) (string, error) {
	if d, err := BinDir(); err == nil && isExec(filepath.Join(d, name)) {
		return filepath.Join(d, name), nil
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("find %s: %w", name, err)
	}
	return p, nil
}

func newestDebianBinDir(root string) string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return ""
	}
	var majors []float64
	names := map[float64]string{}
	for _, e := range entries {
		v, err := strconv.ParseFloat(e.Name(), 64)
		if err != nil || !isExec(filepath.Join(root, e.Name(), "bin", "initdb")) {
			continue
		}
		majors = append(majors, v)
		names[v] = e.Name()
	}
	if len(majors) == 0 {
		return ""
	}
	sort.Float64s(majors)
	return filepath.Join(root, names[majors[len(majors)-1]], "bin")
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// cleanEnv is the environment for PostgreSQL programs: ours, minus the PG*
// variables that would redirect them to another server or data directory.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}
