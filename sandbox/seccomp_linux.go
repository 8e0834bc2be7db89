//go:build linux && (amd64 || arm64)

package sandbox

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// commonDenied are syscalls a worker never makes once it serves: running
// programs, opening files, sockets, namespaces and mounts, tracing other
// processes, kernel attack surface (bpf, io_uring, userfaultfd, perf,
// keyrings, modules) and signalling other processes. They fail with EPERM.
var commonDenied = []uintptr{
	unix.SYS_EXECVE, unix.SYS_EXECVEAT,
	unix.SYS_OPENAT, unix.SYS_OPENAT2, unix.SYS_OPEN_BY_HANDLE_AT, unix.SYS_NAME_TO_HANDLE_AT,
	unix.SYS_MKDIRAT, unix.SYS_UNLINKAT, unix.SYS_RENAMEAT, unix.SYS_RENAMEAT2, unix.SYS_LINKAT,
	unix.SYS_SYMLINKAT, unix.SYS_FCHMODAT, unix.SYS_FCHOWNAT, unix.SYS_TRUNCATE, unix.SYS_MEMFD_CREATE,
	unix.SYS_SOCKET, unix.SYS_SOCKETPAIR, unix.SYS_CONNECT, unix.SYS_BIND, unix.SYS_LISTEN,
	unix.SYS_ACCEPT, unix.SYS_ACCEPT4,
	unix.SYS_PTRACE, unix.SYS_PROCESS_VM_READV, unix.SYS_PROCESS_VM_WRITEV, unix.SYS_KILL, unix.SYS_TKILL,
	unix.SYS_MOUNT, unix.SYS_UMOUNT2, unix.SYS_PIVOT_ROOT, unix.SYS_CHROOT, unix.SYS_UNSHARE, unix.SYS_SETNS,
	unix.SYS_BPF, unix.SYS_USERFAULTFD, unix.SYS_PERF_EVENT_OPEN,
	unix.SYS_IO_URING_SETUP, unix.SYS_IO_URING_ENTER, unix.SYS_IO_URING_REGISTER,
	unix.SYS_KEYCTL, unix.SYS_ADD_KEY, unix.SYS_REQUEST_KEY,
	unix.SYS_INIT_MODULE, unix.SYS_FINIT_MODULE, unix.SYS_DELETE_MODULE, unix.SYS_KEXEC_LOAD,
	unix.SYS_REBOOT, unix.SYS_SWAPON, unix.SYS_SWAPOFF, unix.SYS_ACCT,
}

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
	x32SyscallBit = 0x40000000
)

// seccompFilter builds the worker's filter: a deny list (the Go runtime
// needs too many syscalls for a short allow list), plus argument checks:
// clone only for threads (no new processes), tgkill only within this
// process (the runtime preempts its own threads with signals), clone3 and
// the x32 ABI unavailable.
func seccompFilter(pid int) []unix.SockFilter {
	denied := append(append([]uintptr(nil), commonDenied...), archDenied...)
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
	//   0-3        check the architecture, load the syscall number
	//   4…base-1   one jump to DENY per denied syscall
	//   base+0…4   x32 ABI → DENY, clone3 → ENOSYS, clone → CLONE,
	//              tgkill → TGKILL, anything else → ALLOW
	//   base+5…6   CLONE: allow only with CLONE_THREAD (threads, not processes)
	//   base+7…8   TGKILL: allow only within this process
	//   base+9…11  ALLOW, DENY, ENOSYS
	n := len(denied)
	base := 4 + n
	cloneAt, tgkillAt, allowAt, denyAt, enosysAt := base+5, base+7, base+9, base+10, base+11
	rel := func(from, to int) uint8 { return uint8(to - from - 1) }

	f := []unix.SockFilter{
		bpfStmt(ld, seccompArch),
		bpfJump(jeq, auditArch, 1, 0),
		kill,
		bpfStmt(ld, seccompNr),
	}
	for i, nr := range denied {
		f = append(f, bpfJump(jeq, uint32(nr), rel(4+i, denyAt), 0))
	}
	f = append(f,
		bpfJump(jge, x32SyscallBit, rel(base, denyAt), 0),
		bpfJump(jeq, uint32(unix.SYS_CLONE3), rel(base+1, enosysAt), 0),
		bpfJump(jeq, uint32(unix.SYS_CLONE), rel(base+2, cloneAt), 0),
		bpfJump(jeq, uint32(unix.SYS_TGKILL), rel(base+3, tgkillAt), 0),
		bpfStmt(ja, uint32(allowAt-(base+4)-1)),
		bpfStmt(ld, seccompArg0),
		bpfJump(jset, unix.CLONE_THREAD, rel(cloneAt+1, allowAt), rel(cloneAt+1, denyAt)),
		bpfStmt(ld, seccompArg0),
		bpfJump(jeq, uint32(pid), rel(tgkillAt+1, allowAt), rel(tgkillAt+1, denyAt)),
		allow,
		deny,
		enosys,
	)
	return f
}

// installSeccomp applies the filter to every thread of the worker. It
// needs no_new_privs (set by confineWorker) instead of privileges.
func installSeccomp() error {
	if len(commonDenied)+len(archDenied) > 240 {
		return fmt.Errorf("seccomp: deny list too long for 8-bit jumps")
	}
	filter := seccompFilter(os.Getpid())
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return fmt.Errorf("seccomp: %w", errno)
	}
	return nil
}
