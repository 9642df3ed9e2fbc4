package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sample is what one timed run of a tool cost.
type sample struct {
	wall time.Duration
	// client is the user+system CPU of the process and every descendant it
	// waited for (pg_dump's and pg_restore's worker processes, the pg_dump
	// our backup runs for the DDL), as wait4 reports it.
	client time.Duration
	// server is the CPU the cluster's processes used during the run (its
	// backends, and the WAL writer and checkpointer working for them), read
	// from /proc on the server's side.
	server time.Duration
	rssKB  int64 // the largest peak RSS of the process and of the descendants it waited for
	bytes  int64 // output size (backups)
}

// runner runs the tools against the bench cluster.
type runner struct {
	pmPID int // the cluster's postmaster
	log   func(format string, args ...any)
}

// timed runs prog with args while measuring it and returns its stdout.
func (r *runner) timed(prog string, args ...string) (string, sample, error) {
	if err := waitQuiet(r.pmPID, 30*time.Second); err != nil {
		return "", sample{}, err
	}
	before, err := serverCPU(r.pmPID)
	if err != nil {
		return "", sample{}, err
	}
	// The peak RSS comes from GNU time, which forks the tool from its own
	// small process: a child Go starts shares the parent's memory until it
	// execs, and Linux counts that in the child's peak (ru_maxrss).
	rss, err := os.CreateTemp("", "bench-rss-*")
	if err != nil {
		return "", sample{}, err
	}
	rss.Close()
	defer os.Remove(rss.Name())
	cmd := exec.Command(timeBin, append([]string{"-f", "%M", "-o", rss.Name(), prog}, args...)...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	s := sample{wall: time.Since(start)}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			s.client = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	s.rssKB = peakRSS(rss.Name())
	name := prog
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	if err != nil {
		return "", s, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, tail(stderr.String(), 3000))
	}
	if err := waitQuiet(r.pmPID, 30*time.Second); err != nil {
		return "", s, err
	}
	after, err := serverCPU(r.pmPID)
	if err != nil {
		return "", s, err
	}
	s.server = after - before
	r.log("  %-28s wall %6.2fs  client CPU %6.2fs  server CPU %6.2fs  RSS %5.1f MB", name+" "+firstArg(args),
		s.wall.Seconds(), s.client.Seconds(), s.server.Seconds(), float64(s.rssKB)/1024)
	return stdout.String(), s, nil
}

// timeBin is GNU time (Debian package time).
const timeBin = "/usr/bin/time"

// peakRSS reads the "%M" (kB) GNU time wrote last into path; 0 if none.
func peakRSS(path string) int64 {
	b, _ := os.ReadFile(path)
	lines := strings.Fields(string(b))
	if len(lines) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(lines[len(lines)-1], 10, 64)
	return n
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
