package sandbox

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cpuClock reads the CPU time of one OS thread, from any thread of the
// process: the isolate runs on a locked thread, and the watchdog (on
// another) charges the plugin with that thread's time only — not its own
// ticking, the garbage collector's background workers, or the time the
// isolate sleeps waiting for host-call answers.
type cpuClock int32

// threadCPUClock returns the CPU clock of the calling thread; the caller
// must have locked its goroutine to the thread (runtime.LockOSThread).
// This is glibc's pthread_getcpuclockid: MAKE_THREAD_CPUCLOCK(tid,
// CPUCLOCK_SCHED).
func threadCPUClock() cpuClock {
	const perThread, sched = 4, 2
	return cpuClock(^int32(unix.Gettid())<<3 | perThread | sched)
}

// read is a raw clock_gettime: the kernel answers at once (the vDSO has no
// thread clocks), and unix.ClockGettime's entersyscall would wake the Go
// runtime's sysmon thread from its deep sleep at the start of every
// invocation (see rawPipe).
func (c cpuClock) read() time.Duration {
	var ts unix.Timespec
	if _, _, e := unix.RawSyscall(unix.SYS_CLOCK_GETTIME, uintptr(c), uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}
