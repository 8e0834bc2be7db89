package sandbox

import "golang.org/x/sys/unix"

const auditArch = unix.AUDIT_ARCH_X86_64

// archAllowed are the amd64-only syscalls the worker needs besides
// commonAllowed: thread-local storage setup and the older epoll wait.
var archAllowed = []uintptr{unix.SYS_ARCH_PRCTL, unix.SYS_EPOLL_WAIT}
