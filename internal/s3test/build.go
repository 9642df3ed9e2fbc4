// Package s3test runs a real S3-compatible server for tests and benchmarks:
// SeaweedFS (`weed server -s3`, Apache-2.0), built from its Go module (the
// module proxy serves it; `go install` cannot build it because its go.mod
// has replace directives, so it is built inside the downloaded module) and
// cached between runs under the user cache directory, keyed by version.
// Never a mock: the S3 target's tests and the conformance suite talk to it
// over HTTP like to any bucket.
package s3test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Version is the SeaweedFS module version the tests run.
const Version = "v0.0.0-20261109003541-7506e5f91cd6"

const module = "github.com/seaweedfs/seaweedfs"

// BinEnv names a prebuilt weed binary to use instead of building one.
const BinEnv = "HUBBLE_TEST_WEED"

// Binary returns the path of the weed binary: $HUBBLE_TEST_WEED, else the
// cached build of Version, building it first when missing (a few minutes
// on 2 cores; concurrent test binaries wait for one build under a lock).
// A failed build is an error, never a reason to skip.
func Binary(ctx context.Context, logf func(format string, a ...any)) (string, error) {
	if p := os.Getenv(BinEnv); p != "" {
		return p, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("seaweedfs: user cache directory: %w", err)
	}
	dir := filepath.Join(cache, "hubble-applianceapi", "seaweedfs-"+Version)
	bin := filepath.Join(dir, "weed")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("seaweedfs: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", fmt.Errorf("seaweedfs: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", fmt.Errorf("seaweedfs: lock %s: %w", lock.Name(), err)
	}
	if _, err := os.Stat(bin); err == nil {
		return bin, nil // another test binary built it while we waited
	}
	start := time.Now()
	src, err := download(ctx)
	if err != nil {
		return "", err
	}
	tmp := bin + ".tmp"
	// -trimpath and no debug information: smaller and faster to link;
	// nothing here needs to debug SeaweedFS itself.
	cmd := exec.CommandContext(ctx, goTool(), "build", "-trimpath", "-ldflags=-s -w", "-o", tmp, "./weed")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("seaweedfs: go build ./weed in %s: %w\n%s", src, err, tail(out))
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", fmt.Errorf("seaweedfs: %w", err)
	}
	if logf != nil {
		logf("s3test: built SeaweedFS %s in %s (cached at %s)", Version, time.Since(start).Round(time.Second), bin)
	}
	return bin, nil
}

// download fetches the module source through the module proxy and returns
// its folder in the module cache.
func download(ctx context.Context) (string, error) {
	cmd := exec.CommandContext(ctx, goTool(), "mod", "download", "-json", module+"@"+Version)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("seaweedfs: go mod download %s@%s: %w\n%s", module, Version, err, tail(stderr.Bytes()))
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("seaweedfs: go mod download: %w", err)
	}
	if info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("seaweedfs: go mod download: %s", info.Error)
	}
	if _, err := os.Stat(filepath.Join(info.Dir, "weed")); errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("seaweedfs: %s has no weed folder", info.Dir)
	}
	return info.Dir, nil
}

// goTool is the go command that runs the tests, else the one on PATH.
func goTool() string {
	if p := filepath.Join(os.Getenv("GOROOT"), "bin", "go"); os.Getenv("GOROOT") != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

func tail(b []byte) string {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
