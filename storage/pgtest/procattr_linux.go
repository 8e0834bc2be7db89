package pgtest

import "syscall"

// sysProcAttr runs the server as cred (nil: as ourselves), and has the kernel
// stop it if the test binary dies without Close (a timeout's panic), so no
// server outlives its tests.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
}
