package sandbox

import "golang.org/x/sys/unix"

const auditArch = unix.AUDIT_ARCH_AARCH64

// archAllowed: arm64 needs nothing beyond commonAllowed.
var archAllowed = []uintptr{}
