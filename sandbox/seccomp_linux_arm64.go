package sandbox

import "golang.org/x/sys/unix"

const auditArch = unix.AUDIT_ARCH_AARCH64

// archDenied: arm64 has no legacy syscalls beyond commonDenied.
var archDenied = []uintptr{}
