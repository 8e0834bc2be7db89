package sandbox

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
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
//     pushing the machine into swap; each invocation then lowers the soft
//     RLIMIT_AS further (see memCap);
//   - RLIMIT_FSIZE 0 (no file writes), RLIMIT_CORE 0, RLIMIT_NOFILE small;
//   - descriptors inherited by accident closed;
//   - no privilege: started by a root server, the worker switches to an
//     unprivileged uid/gid with no supplementary groups; in every case it
//     ends with no capabilities (see dropPrivileges);
//   - a seccomp filter (see seccompFilter).
//
// RLIMIT_NPROC is not set: it is per user and counts threads, which the Go
// runtime needs.
func confineWorker(c workerConfig) error {
	// no_new_privs, the bounding set and capabilities are per thread, and
	// installing the filter without privileges needs no_new_privs on the
	// installing thread (the kernel copies it to the others with the
	// filter): all of it happens on one thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	memory := c.memory
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
	if !raceBuild {
		if workerMemCap, err = openMemCap(vmSize + headroom); err != nil {
			return err
		}
	}
	if err := dropPrivileges(c.uid, c.gid); err != nil {
		return err
	}
	// Changing the effective uid resets both the dumpable flag and the
	// parent-death signal: set them again, and make sure the parent did not
	// die in between (the signal would then never come).
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("dumpable: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("parent-death signal: %w", err)
	}
	if os.Getppid() != c.ppid {
		return fmt.Errorf("the server exited")
	}
	if beforeSeccomp != nil {
		beforeSeccomp()
	}
	// Last: from here on the worker cannot open files, run programs, create
	// processes or sockets, or signal other processes.
	return installSeccomp()
}

// beforeSeccomp lets a test look at a confined worker before its seccomp
// filter hides everything (see the probe worker in the tests).
var beforeSeccomp func()

// dropPrivileges leaves the worker with no privilege. Started as root, it
// empties the capability bounding set, drops every supplementary group and
// switches to uid/gid on all threads, which empties the permitted,
// effective and ambient sets; in every case it clears the ambient and
// inheritable sets and checks that no capability is left.
//
// The bounding set is a per-thread attribute: it is emptied on the thread
// that confines the worker, while threads the Go runtime started earlier
// keep the full set. It only bounds what an exec could gain, and a worker
// cannot exec (no_new_privs, seccomp).
func dropPrivileges(uid, gid int) error {
	// The bounding set, capset and the check below are per thread: the
	// caller has locked its goroutine to the thread.
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && err != unix.EINVAL {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	root := os.Geteuid() == 0
	if root {
		if uid <= 0 || gid <= 0 {
			return fmt.Errorf("started as root without an unprivileged uid/gid to switch to")
		}
		for c := 0; c < 64; c++ {
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err == unix.EINVAL {
				break // past the kernel's last capability
			} else if err != nil {
				return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
			}
		}
		if err := syscall.Setgroups([]int{}); err != nil {
			return fmt.Errorf("setgroups: %w", err)
		}
		if err := syscall.Setresgid(gid, gid, gid); err != nil {
			return fmt.Errorf("setresgid %d: %w", gid, err)
		}
		if err := syscall.Setresuid(uid, uid, uid); err != nil {
			return fmt.Errorf("setresuid %d: %w", uid, err)
		}
		ru, eu, su := unix.Getresuid()
		rg, eg, sg := unix.Getresgid()
		groups, err := unix.Getgroups()
		if ru != uid || eu != uid || su != uid || rg != gid || eg != gid || sg != gid || err != nil || len(groups) != 0 {
			return fmt.Errorf("still uids %d/%d/%d, gids %d/%d/%d, groups %v after switching to %d:%d", ru, eu, su, rg, eg, sg, groups, uid, gid)
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var none [2]unix.CapUserData
	if err := unix.Capset(&hdr, &none[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	status, err := os.ReadFile("/proc/thread-self/status")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(status), "\n") {
		name, value, _ := strings.Cut(line, ":")
		switch name {
		case "CapInh", "CapPrm", "CapEff", "CapAmb":
		case "CapBnd":
			if !root {
				continue // emptying it needs CAP_SETPCAP
			}
		default:
			continue
		}
		if value = strings.TrimSpace(value); strings.Trim(value, "0") != "" {
			return fmt.Errorf("%s is %s after dropping every capability", name, value)
		}
	}
	return nil
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
		if err != nil || fd <= 2 || fd == cancelFD {
			continue // the protocol's pipes
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

// ProtectServer marks the calling process — a server that will supervise
// sandbox workers — non-dumpable: no core dumps of its memory, and no
// other process of its user (a worker that escaped everything else, where
// workers share the server's user) may ptrace it or open its
// /proc/<pid>/mem, fd or environ. The process keeps access to its own
// /proc/self. NewPool calls it too; servers call it at start.
func ProtectServer() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("sandbox: mark the server non-dumpable: %w", err)
	}
	return nil
}

var protectOnce sync.Once

func protectServer(log *slog.Logger) {
	protectOnce.Do(func() {
		if err := ProtectServer(); err != nil {
			log.Warn(err.Error())
		}
	})
}
