package procgroup

import (
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRecord_StringParse(t *testing.T) {
	r := Record{PGID: 4242, Start: 123456, Boot: "0e1f-boot"}
	got, err := Parse(r.String())
	if err != nil || got != r {
		t.Fatalf("Parse(%q) = %+v, %v", r.String(), got, err)
	}
	for _, bad := range []string{"", "1 2", "x 2 b", "1 2 b", "0 2 b", "5 -1 b", "5 2 b c"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

// startGroup starts a tool in its own process group that leaves a
// grandchild behind, and returns the tool's process and the grandchild's pid.
func startGroup(t *testing.T) (*exec.Cmd, int) {
	t.Helper()
	cmd := exec.Command("sh", "-c", "sleep 300 & echo $!; wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	b := make([]byte, 32)
	n, _ := out.Read(b)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil {
		t.Fatalf("grandchild pid %q: %v", b[:n], err)
	}
	return cmd, pid
}

func TestKill(t *testing.T) {
	cmd, grandchild := startGroup(t)
	r, err := Describe(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	// Records that do not describe this group are never acted on.
	for _, other := range []Record{
		{PGID: r.PGID, Start: r.Start, Boot: "another-boot"},
		{PGID: r.PGID, Start: r.Start + 1, Boot: r.Boot}, // the leader is another process: reused number
	} {
		if n, err := Kill(other); err != nil || n != 0 {
			t.Errorf("Kill(%+v) = %d, %v; want nothing killed", other, n, err)
		}
	}
	if !Alive(grandchild) {
		t.Fatal("a mismatched record killed the group")
	}
	if n, err := Kill(r); err != nil || n != 2 {
		t.Fatalf("Kill = %d, %v; want the 2 members killed", n, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for Alive(grandchild) {
		if time.Now().After(deadline) {
			t.Fatal("grandchild still runs after Kill")
		}
		time.Sleep(10 * time.Millisecond) // polling the kernel's process table
	}
	cmd.Wait()
	if n, err := Kill(r); err != nil || n != 0 {
		t.Errorf("Kill of a gone group = %d, %v", n, err)
	}
}
