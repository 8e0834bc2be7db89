//go:build !linux

package sandbox

import (
	"errors"
	"log/slog"
	"syscall"
	"time"
)

// Workers are confined only on Linux; elsewhere they still run in their own
// process group, so a crash or a kill cannot take the server with them.

func workerSysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func killGroup(pid int) {
	if pid <= 0 {
		return // kill(0 or -1) would hit the server's own group or every process
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

func confineWorker(workerConfig) error { return nil }

// cpuReader reads a worker's CPU time from outside; only on Linux.
type cpuReader struct{}

func newCPUReader(pid int) (*cpuReader, error) {
	return nil, errors.New("sandbox: reading a worker's CPU time needs Linux")
}

func (c *cpuReader) close() {}

func (c *cpuReader) read() (time.Duration, error) { return 0, errors.ErrUnsupported }

// ProtectServer: only Linux servers can mark themselves non-dumpable.
func ProtectServer() error { return nil }

func protectServer(*slog.Logger) {}
