package main

import (
	"fmt"
	"os/exec"
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
	rssKB  int64 // the largest peak RSS of the process and its descendants
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
	cmd := exec.Command(prog, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	s := sample{wall: time.Since(start)}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			s.rssKB = ru.Maxrss
			s.client = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
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
