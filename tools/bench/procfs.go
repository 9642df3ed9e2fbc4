package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of the CPU times in /proc/PID/stat (USER_HZ, 100 on
// every Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// procStat is what the bench reads from /proc/PID/stat.
type procStat struct {
	state byte // R, S, D, Z (zombie: exited, not yet reaped), ...
	ppid  int
	// cpu is the process's own user+system time plus that of its children
	// it has waited for (cutime, cstime): a backend that has exited is
	// counted in its postmaster's.
	cpu time.Duration
}

// parseStat parses the text of /proc/PID/stat. The command name, in
// parentheses, may hold spaces and parentheses: fields are counted after
// the last ')'.
func parseStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): ppid is field 4, utime..cstime fields 14..17.
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("stat: %d fields after the name", len(f))
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, fmt.Errorf("stat: ppid: %w", err)
	}
	var ticks int64
	for _, s := range f[11:15] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("stat: cpu time: %w", err)
		}
		ticks += n
	}
	return procStat{state: f[0][0], ppid: ppid, cpu: time.Duration(ticks) * clockTick}, nil
}

// serverCPU is the CPU time the postmaster pid and its processes (live
// backends and background workers, and those that exited) have used: the
// difference of two readings is the server's CPU in between, whatever
// process did the work (backends, WAL writer, checkpointer). A child reaped
// while its siblings are listed would be in neither the list nor the
// postmaster's reading taken before it (or in both, read after it): the
// reading is taken again until the postmaster's total did not move during
// the listing.
func serverCPU(pid int) (time.Duration, error) {
	for attempt := 0; ; attempt++ {
		first, err := readStat(pid)
		if err != nil {
			return 0, err
		}
		kids := children(pid)
		last, err := readStat(pid)
		if err != nil {
			return 0, err
		}
		if first.cpu != last.cpu && attempt < 100 {
			time.Sleep(time.Millisecond)
			continue
		}
		total := last.cpu
		for _, child := range kids {
			total += child.cpu
		}
		return total, nil
	}
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, fmt.Errorf("read postmaster stat: %w", err)
	}
	return parseStat(b)
}

type childProc struct {
	pid   int
	state byte
	cpu   time.Duration
	title string // the process title: "postgres: USER DB HOST(PORT) STATE" for a backend
}

// children lists the live child processes of pid. Processes that exit while
// being listed are skipped (their time is then in the parent's).
func children(pid int) []childProc {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []childProc
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		st, err := parseStat(b)
		if err != nil || st.ppid != pid {
			continue
		}
		dir := filepath.Dir(p)
		cpid, _ := strconv.Atoi(filepath.Base(dir))
		title, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
		out = append(out, childProc{pid: cpid, state: st.state, cpu: st.cpu, title: string(bytes.TrimRight(title, "\x00"))})
	}
	return out
}

// isBackend tells a client backend by its process title, "postgres: USER
// DB HOST(PORT) STATE" (or "[local]" for a socket).
func isBackend(title string) bool {
	f := strings.Fields(title)
	return len(f) >= 4 && f[0] == "postgres:" && (strings.HasSuffix(f[3], ")") || f[3] == "[local]")
}

// waitQuiet waits until the server has no client backend and no exited
// process it has not reaped yet: only then is every finished backend's CPU
// in the postmaster's totals and none counted twice or missed by a reading
// racing with the postmaster's wait. The bench runs nothing else on its
// cluster, so this happens a moment after the last client disconnects.
func waitQuiet(pid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		busy := ""
		for _, c := range children(pid) {
			if c.state == 'Z' || isBackend(c.title) {
				busy = fmt.Sprintf("pid %d (%s, state %c)", c.pid, c.title, c.state)
				break
			}
		}
		if busy == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server process %s still running after %s", busy, timeout)
		}
		<-tick.C
	}
}

// postmasterPID reads the server's pid from postmaster.pid in its data
// directory.
func postmasterPID(dataDir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("read postmaster.pid: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return 0, fmt.Errorf("postmaster.pid: %w", err)
	}
	return pid, nil
}

// loadAvg is the 1-minute load average.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
