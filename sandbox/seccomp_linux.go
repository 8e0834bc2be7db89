//go:build linux && (amd64 || arm64)

package sandbox

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// commonAllowed are the only syscalls a worker may make once it serves
// (with archAllowed and the argument-checked ones in seccompFilter):
// what the Go runtime, glibc's threads (the binary links cgo) and the
// worker protocol need — memory, threads, signals to itself, futexes,
// timers, and IO on the descriptors it already holds. Everything else —
// opening files, sockets, exec, namespaces and mounts (including the new
// mount API), other processes (ptrace, process_vm_*, pidfd_*, kcmp, kill),
// bpf, perf, io_uring, userfaultfd, keyrings — fails with EPERM.
var commonAllowed = []uintptr{
	// IO on the protocol pipes, /proc/self/statm and the runtime's
	// cgroup files (all opened before the filter is installed).
	unix.SYS_READ, unix.SYS_WRITE, unix.SYS_PREAD64, unix.SYS_CLOSE, unix.SYS_FCNTL,
	unix.SYS_EPOLL_CREATE1, unix.SYS_EPOLL_CTL, unix.SYS_EPOLL_PWAIT, unix.SYS_EVENTFD2,
	// Memory.
	unix.SYS_MMAP, unix.SYS_MUNMAP, unix.SYS_MPROTECT, unix.SYS_MADVISE, unix.SYS_MREMAP, unix.SYS_BRK,
	// Threads, scheduling and time.
	unix.SYS_FUTEX, unix.SYS_SCHED_YIELD, unix.SYS_SCHED_GETAFFINITY, unix.SYS_NANOSLEEP, unix.SYS_CLOCK_NANOSLEEP,
	unix.SYS_CLOCK_GETTIME, unix.SYS_GETTIMEOFDAY, unix.SYS_GETTID, unix.SYS_GETPID,
	unix.SYS_SET_ROBUST_LIST, unix.SYS_RSEQ, unix.SYS_RESTART_SYSCALL, unix.SYS_GETRANDOM,
	unix.SYS_EXIT, unix.SYS_EXIT_GROUP,
	// Signals (to itself only: tgkill is checked below).
	unix.SYS_RT_SIGACTION, unix.SYS_RT_SIGPROCMASK, unix.SYS_RT_SIGRETURN, unix.SYS_SIGALTSTACK,
}

// cloneNamespaces are the clone flags that would create namespaces.
const cloneNamespaces = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER |
	unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

// BPF instruction helpers.
func bpfStmt(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }
func bpfJump(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k}
}

// Offsets into struct seccomp_data.
const (
	seccompNr     = 0
	seccompArch   = 4
	seccompArg0   = 16 // low 32 bits on little-endian amd64 and arm64
	seccompArg0Hi = 20
	x32SyscallBit = 0x40000000
)

// seccompFilter builds the worker's filter: an allowlist, plus argument
// checks — clone only for threads without new namespaces (no new
// processes), tgkill only within this process (the runtime preempts its own
// threads with signals), prlimit64 only on itself (the worker lowers its
// own address-space limit per invocation; other workers run as the same
// user), clone3 reported as missing (glibc then falls back to clone, whose
// flags a filter can see), the x32 ABI and other architectures refused.
func seccompFilter(pid int) []unix.SockFilter {
	allowed := append(append([]uintptr(nil), commonAllowed...), archAllowed...)
	const (
		ld   = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jge  = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		jset = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		ret  = unix.BPF_RET | unix.BPF_K
		ja   = unix.BPF_JMP | unix.BPF_JA
	)
	allow := bpfStmt(ret, unix.SECCOMP_RET_ALLOW)
	deny := bpfStmt(ret, unix.SECCOMP_RET_ERRNO|uint32(unix.EPERM))
	enosys := bpfStmt(ret, unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS))
	kill := bpfStmt(ret, unix.SECCOMP_RET_KILL_PROCESS)

	// Layout (jumps are relative, so every block's position is fixed
	// before the jumps to it are written; a filter must end with a return):
	//   0-3          check the architecture, load the syscall number
	//   4…base-1     one jump to ALLOW per allowed syscall
	//   base+0…5     x32 ABI → DENY, clone3 → ENOSYS, clone → CLONE,
	//                tgkill → TGKILL, prlimit64 → SELF, anything else → DENY
	//   base+6…8     CLONE: no namespace flags, and CLONE_THREAD
	//   base+9…10    TGKILL: only within this process
	//   base+11…14   SELF: pid argument 0 (both halves)
	//   base+15…17   ALLOW, DENY, ENOSYS
	n := len(allowed)
	base := 4 + n
	cloneAt, tgkillAt, selfAt := base+6, base+9, base+11
	allowAt, denyAt, enosysAt := base+15, base+16, base+17
	rel := func(from, to int) uint8 { return uint8(to - from - 1) }

	f := []unix.SockFilter{
		bpfStmt(ld, seccompArch),
		bpfJump(jeq, auditArch, 1, 0),
		kill,
		bpfStmt(ld, seccompNr),
	}
	for i, nr := range allowed {
		f = append(f, bpfJump(jeq, uint32(nr), rel(4+i, allowAt), 0))
	}
	f = append(f,
		bpfJump(jge, x32SyscallBit, rel(base, denyAt), 0),
		bpfJump(jeq, uint32(unix.SYS_CLONE3), rel(base+1, enosysAt), 0),
		bpfJump(jeq, uint32(unix.SYS_CLONE), rel(base+2, cloneAt), 0),
		bpfJump(jeq, uint32(unix.SYS_TGKILL), rel(base+3, tgkillAt), 0),
		bpfJump(jeq, uint32(unix.SYS_PRLIMIT64), rel(base+4, selfAt), 0),
		bpfStmt(ja, uint32(denyAt-(base+5)-1)),

		bpfStmt(ld, seccompArg0),
		bpfJump(jset, cloneNamespaces, rel(cloneAt+1, denyAt), 0),
		bpfJump(jset, unix.CLONE_THREAD, rel(cloneAt+2, allowAt), rel(cloneAt+2, denyAt)),

		bpfStmt(ld, seccompArg0),
		bpfJump(jeq, uint32(pid), rel(tgkillAt+1, allowAt), rel(tgkillAt+1, denyAt)),

		bpfStmt(ld, seccompArg0),
		bpfJump(jeq, 0, 0, rel(selfAt+1, denyAt)),
		bpfStmt(ld, seccompArg0Hi),
		bpfJump(jeq, 0, rel(selfAt+3, allowAt), rel(selfAt+3, denyAt)),

		allow,
		deny,
		enosys,
	)
	return f
}

// installSeccomp applies the filter to every thread of the worker. It
// needs no_new_privs (set by confineWorker) instead of privileges.
func installSeccomp() error {
	if len(commonAllowed)+len(archAllowed) > 200 {
		return fmt.Errorf("seccomp: allow list too long for 8-bit jumps")
	}
	filter := seccompFilter(os.Getpid())
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return fmt.Errorf("seccomp: %w", errno)
	}
	return nil
}
