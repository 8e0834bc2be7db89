package sandbox

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// workerSysProcAttr puts a worker in its own process group (so the parent
// can SIGKILL it with everything it might spawn) and makes the kernel kill it
// when the parent dies.
func workerSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup SIGKILLs the worker's process group.
func killGroup(pid int) {
	if pid <= 0 {
		return // kill(0 or -1) would hit the server's own group or every process
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// confineWorker applies the worker's OS limits to itself before it reads
// any untrusted input. Hard limits are lowered too, so code that escaped the
// isolate cannot raise them again.
//
//   - no new privileges (setuid binaries do not elevate), not dumpable
//     (no core files, no ptrace by other processes of the same user);
//   - RLIMIT_AS and RLIMIT_DATA: what the Go runtime has reserved at start
//     plus room for one invocation, so a huge allocation fails at once
//     (a fatal "out of memory", reported as the memory limit) instead of
//     pushing the machine into swap;
//   - RLIMIT_FSIZE 0 (no file writes), RLIMIT_CORE 0, RLIMIT_NOFILE small;
//   - descriptors inherited by accident closed;
//   - a seccomp filter (see seccompFilter).
//
// RLIMIT_NPROC is not set: it is per user and counts threads, which the Go
// runtime needs.
func confineWorker(memory int64) error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("dumpable: %w", err)
	}
	if err := closeInheritedFiles(); err != nil {
		return err
	}
	vmSize, vmData, err := selfVM()
	if err != nil {
		return err
	}
	headroom := uint64(4*memory) + workerMaxStack + 256<<20
	limits := []struct {
		name     string
		resource int
		value    uint64
	}{
		{"RLIMIT_CORE", unix.RLIMIT_CORE, 0},
		{"RLIMIT_FSIZE", unix.RLIMIT_FSIZE, 0},
		{"RLIMIT_NOFILE", unix.RLIMIT_NOFILE, 32},
		{"RLIMIT_DATA", unix.RLIMIT_DATA, vmData + headroom},
		{"RLIMIT_AS", unix.RLIMIT_AS, vmSize + headroom},
	}
	if raceBuild {
		limits = limits[:3]
	}
	for _, l := range limits {
		if err := unix.Setrlimit(l.resource, &unix.Rlimit{Cur: l.value, Max: l.value}); err != nil {
			return fmt.Errorf("%s: %w", l.name, err)
		}
	}
	// Last: from here on the worker cannot open files, run programs, create
	// processes or sockets, or signal other processes.
	return installSeccomp()
}

// closeInheritedFiles closes every descriptor above stderr that the Go
// runtime did not open itself. os/exec passes only stdin, stdout and stderr,
// but a descriptor the server inherited without close-on-exec (from a
// service manager, a shell) would otherwise reach the worker too.
func closeInheritedFiles() error {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("list descriptors: %w", err)
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil {
			continue // the directory's own descriptor, closed already
		}
		switch {
		case target == "anon_inode:[eventpoll]", target == "anon_inode:[eventfd]":
			continue // the runtime's network poller
		case strings.HasPrefix(target, "/sys/fs/cgroup/"):
			continue // the runtime's CPU quota files (GOMAXPROCS tracking)
		}
		_ = unix.Close(fd)
	}
	return nil
}

// selfVM reads the current address-space and data-segment sizes in bytes.
func selfVM() (size, data uint64, err error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0, err
	}
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		key, rest, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		var into *uint64
		switch string(key) {
		case "VmSize":
			into = &size
		case "VmData":
			into = &data
		default:
			continue
		}
		kb, err := strconv.ParseUint(string(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte(" kB"))), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/self/status %s: %w", key, err)
		}
		*into = kb << 10
	}
	if size == 0 || data == 0 {
		return 0, 0, fmt.Errorf("/proc/self/status: VmSize/VmData missing")
	}
	return size, data, nil
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times (100 on every
// Linux architecture Go supports).
const clockTicks = 100

// cpuReader reads a process's user+system CPU time from outside it. It keeps
// /proc/<pid>/stat open: one pread per sample instead of open/read/close.
type cpuReader struct {
	f   *os.File
	buf [512]byte
}

func newCPUReader(pid int) (*cpuReader, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, err
	}
	return &cpuReader{f: f}, nil
}

func (c *cpuReader) close() { _ = c.f.Close() }

func (c *cpuReader) read() (time.Duration, error) {
	n, err := c.f.ReadAt(c.buf[:], 0)
	if n == 0 && err != nil {
		return 0, err
	}
	return parseStatCPU(c.buf[:n])
}

// parseStatCPU extracts utime+stime from the content of /proc/<pid>/stat.
func parseStatCPU(b []byte) (time.Duration, error) {
	// The command name may contain spaces and parentheses: fields start
	// after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc stat: malformed")
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat: malformed")
	}
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	utime, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	stime, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc stat: malformed times")
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}
