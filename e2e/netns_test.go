package e2e

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// A service started with startOptions.netns runs in a network namespace of
// its own, where the loopback interface also carries nsRemote, an address
// of TEST-NET-1 that exists nowhere else: a client inside the namespace that
// connects to nsRemote reaches the service from a non-loopback address, as
// a remote machine would, and no packet leaves the namespace. Clients run
// inside it through nsenter.
const nsRemote = "192.0.2.1"

// requireNetns stops a test that needs network namespaces where it cannot
// have them: a failure in CI (which runs as root), a skip for a developer
// without root.
func requireNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		for _, tool := range []string{"nsenter", "ip"} {
			if _, err := exec.LookPath(tool); err != nil {
				t.Fatalf("%s is missing (scripts/deps.sh installs it): %v", tool, err)
			}
		}
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("network namespaces need root; CI runs as root")
	}
	t.Skip("network namespaces need root")
}

// nsEnv is the environment of a service to run in its own namespace:
// listening on every address of the namespace.
var nsEnv = []string{"HUBBLE_LISTEN=0.0.0.0:0"}

// netns brings the namespace's loopback up with nsRemote on it and returns
// the command prefix that runs a program inside the namespace.
func (s *service) netns(t *testing.T) []string {
	t.Helper()
	prefix := []string{"nsenter", "--net=/proc/" + strconv.Itoa(s.cmd.Process.Pid) + "/ns/net", "--"}
	for _, args := range [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "addr", "add", nsRemote + "/32", "dev", "lo"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(ctx, prefix[0], append(prefix[1:], args...)...).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("%v %v: %v\n%s", prefix, args, err, out)
		}
	}
	return prefix
}

var portRE = regexp.MustCompile(`:(\d+)$`)

// port is the TCP port the service listens on.
func (s *service) port(t *testing.T) string {
	t.Helper()
	m := portRE.FindStringSubmatch(s.base)
	if m == nil {
		t.Fatalf("no port in %s", s.base)
	}
	return m[1]
}
