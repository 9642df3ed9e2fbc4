// Package procgroup owns the records of the process groups a piece of work
// started (pg_dump, psql, the replication commands and what they start), and
// killing the groups of a dead process's work, so that a kill -9 of the
// service or the CLI leaves no child running past the next sweep of its
// leftovers.
//
// A record names the group by its leader's pid, with the leader's start time
// and the boot it ran in: a group id is only killed while a live process of
// that group could belong to the recorded one (same boot, started no earlier
// than the recorded leader, and the leader, if still there, is the recorded
// process), so a number reused after a reboot or a pid wraparound is never
// hit.
package procgroup

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Record identifies one process group.
type Record struct {
	PGID  int    // the leader's pid
	Start uint64 // the leader's start time, clock ticks after boot (/proc/PID/stat field 22)
	Boot  string // /proc/sys/kernel/random/boot_id of the boot it ran in
}

// Describe returns the record of the group whose leader is pid, which must
// still exist (running or not yet reaped).
func Describe(pid int) (Record, error) {
	st, err := readStat(pid)
	if err != nil {
		return Record{}, err
	}
	boot, err := BootID()
	if err != nil {
		return Record{}, err
	}
	return Record{PGID: pid, Start: st.start, Boot: boot}, nil
}

// String is the record's line form, "PGID START BOOT", which Parse reads.
func (r Record) String() string { return fmt.Sprintf("%d %d %s", r.PGID, r.Start, r.Boot) }

// Parse reads a record written by Record.String.
func Parse(line string) (Record, error) {
	f := strings.Fields(line)
	if len(f) != 3 {
		return Record{}, fmt.Errorf("process group record %q: want PGID START BOOT", line)
	}
	pgid, err1 := strconv.Atoi(f[0])
	start, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil || pgid <= 1 {
		return Record{}, fmt.Errorf("process group record %q: bad number", line)
	}
	return Record{PGID: pgid, Start: start, Boot: f[2]}, nil
}

// BootID identifies the running boot.
func BootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", fmt.Errorf("read boot id: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Kill sends SIGKILL to the recorded group if processes of it may still run,
// and returns how many live members it found (0: nothing to kill).
func Kill(r Record) (int, error) {
	boot, err := BootID()
	if err != nil {
		return 0, err
	}
	if r.Boot != boot || r.PGID <= 1 {
		return 0, nil // another boot: every process of it is gone
	}
	members, err := Members(r)
	if err != nil || len(members) == 0 {
		return 0, err
	}
	if err := syscall.Kill(-r.PGID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return len(members), fmt.Errorf("kill process group %d: %w", r.PGID, err)
	}
	return len(members), nil
}

// Members lists the live (not zombie) processes of the recorded group. It is
// empty when the group id now belongs to another group: its leader is a
// different process, or one of its members started before the recorded
// leader did.
func Members(r Record) ([]int, error) {
	paths, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return nil, err
	}
	var members []int
	for _, p := range paths {
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.pgrp != r.PGID {
			continue // gone meanwhile, or another group
		}
		if st.start < r.Start || (pid == r.PGID && st.start != r.Start) {
			return nil, nil // the number was reused: not our group
		}
		if st.state != 'Z' && st.state != 'X' {
			members = append(members, pid)
		}
	}
	return members, nil
}

// Alive reports whether pid runs (a zombie waiting to be reaped does not).
func Alive(pid int) bool {
	st, err := readStat(pid)
	return err == nil && st.state != 'Z' && st.state != 'X'
}

type stat struct {
	state byte
	pgrp  int
	start uint64
}

// readStat parses /proc/PID/stat: "pid (comm) state ppid pgrp ... starttime"
// (comm may hold spaces and parentheses, hence the last ')').
func readStat(pid int) (stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return stat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); field N is f[N-3].
	if len(f) < 20 || len(f[0]) != 1 {
		return stat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	pgrp, err1 := strconv.Atoi(f[2])
	start, err2 := strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil {
		return stat{}, fmt.Errorf("/proc/%d/stat: bad number", pid)
	}
	return stat{state: f[0][0], pgrp: pgrp, start: start}, nil
}
