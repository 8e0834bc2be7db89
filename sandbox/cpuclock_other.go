//go:build !linux

package sandbox

import (
	"syscall"
	"time"
)

// cpuClock falls back to the CPU time of the whole process where per-thread
// clocks of other threads cannot be read: a worker runs one invocation at a
// time, so the difference over an invocation is its CPU time, the
// watchdog's and garbage collection's included.
type cpuClock struct{}

func threadCPUClock() cpuClock { return cpuClock{} }

func (cpuClock) read() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
