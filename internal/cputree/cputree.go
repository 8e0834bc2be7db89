// Package cputree reads the CPU time a process tree has used, from /proc: what
// a request or a plugin invocation costs the machine, which wall time hides
// when the cores are shared. Benchmarks and the comparison commands use it;
// the server does not.
package cputree

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is USER_HZ, the unit of /proc/PID/stat's times (100 on every
// Linux the project runs on).
const clockTick = 100

// Of is the user and system CPU time of pid and every process below it,
// including descendants they have already reaped (a sandbox worker retired
// mid-run still counts).
func Of(pid int) (time.Duration, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("cputree: %w", err)
	}
	type proc struct {
		ppid  int
		ticks int64
	}
	procs := map[int]proc{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		// The fields after the parenthesised command name, which may hold spaces.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 > len(b) {
			continue
		}
		rest := strings.Fields(string(b[i+2:]))
		if len(rest) < 15 {
			continue
		}
		ppid, _ := strconv.Atoi(rest[1])
		var ticks int64
		for _, f := range rest[11:15] { // utime, stime, cutime, cstime
			v, _ := strconv.ParseInt(f, 10, 64)
			ticks += v
		}
		procs[p] = proc{ppid, ticks}
	}
	if _, ok := procs[pid]; !ok {
		return 0, fmt.Errorf("cputree: process %d is gone", pid)
	}
	children := map[int][]int{}
	for p, s := range procs {
		children[s.ppid] = append(children[s.ppid], p)
	}
	var total int64
	stack := []int{pid}
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		total += procs[p].ticks
		stack = append(stack, children[p]...)
	}
	return time.Duration(total) * time.Second / clockTick, nil
}

// Self is Of(this process), or 0 when /proc cannot say.
func Self() time.Duration {
	d, _ := Of(os.Getpid())
	return d
}

// SelfOnly is the CPU time of this process alone, without its children
// (getrusage RUSAGE_SELF): next to Self, it splits a benchmark's cost between
// the server and its sandbox workers. 0 when the kernel cannot say.
func SelfOnly() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
