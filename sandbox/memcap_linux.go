package sandbox

import (
	"bytes"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// memCap lowers a worker's soft RLIMIT_AS around each invocation to the
// address space the process maps now plus the invocation's limit and
// memCapSlack, so that no allocation — one typed array, a repeated string, a
// builtin that ignores Interrupt — can take an invocation far past its
// limit: the Go runtime cannot reserve the memory, dies with "out of
// memory", and the parent reports the memory limit. The hard limit (set by
// confineWorker) stays, so the soft one is raised again between invocations
// (when the invocation mapped memory: see release).
//
// The cap is a backstop: the watchdog's samples and its check at the end of
// the invocation (guard.go) stop most growth cleanly, well before it.
// RLIMIT_AS rather than RLIMIT_DATA, which would follow the heap more
// closely: the Go runtime checks every failed address-space reservation
// and dies with "out of memory", while some of its paths that commit
// already reserved memory crash with a segmentation fault instead.
type memCap struct {
	statm *os.File // /proc/self/statm, opened before the seccomp filter
	hard  uint64
	page  uint64
	buf   [128]byte

	// size is the last reading of statm, taken when the Go runtime's
	// mapped memory was goMapped; reused while that does not change (for
	// at most reuseReadings invocations: threads map their stacks outside
	// the Go runtime's accounting), as reading statm costs microseconds.
	size, goMapped uint64
	reused         int
	// cur is the soft limit in force.
	cur uint64
}

const reuseReadings = 64

// memCapSlack is what an invocation may map beyond its memory limit before
// the worker dies: the Go runtime reserves heap address space 64 MiB at a
// time (two such arenas), plus its metadata and a few new thread stacks
// (8 MiB each). Measured: with less, heap growth the watchdog would have
// stopped cleanly reaches the cap first.
const memCapSlack = 128<<20 + 32<<20

// workerMemCap is set by confineWorker where the cap applies.
var workerMemCap *memCap

func openMemCap(hard uint64) (*memCap, error) {
	f, err := os.Open("/proc/self/statm")
	if err != nil {
		return nil, fmt.Errorf("memory cap: %w", err)
	}
	return &memCap{statm: f, hard: hard, page: uint64(os.Getpagesize()), cur: hard}, nil
}

// mapped is the process's address-space size: the first field of statm.
func (c *memCap) mapped() (uint64, error) {
	n, err := c.statm.ReadAt(c.buf[:], 0)
	if n == 0 {
		return 0, fmt.Errorf("read statm: %w", err)
	}
	field, _, _ := bytes.Cut(c.buf[:n], []byte{' '})
	pages, err := strconv.ParseUint(string(field), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("statm: %w", err)
	}
	return pages * c.page, nil
}

// limit caps further mappings at extra bytes beyond the current size;
// goMapped is the Go runtime's mapped memory now.
func (c *memCap) limit(extra, goMapped uint64) error {
	if goMapped != c.goMapped || c.reused >= reuseReadings || c.size == 0 {
		now, err := c.mapped()
		if err != nil {
			return err
		}
		c.size, c.goMapped, c.reused = now, goMapped, 0
	}
	c.reused++
	return c.set(min(c.size+extra, c.hard))
}

// release lifts the cap after an invocation, unless the Go runtime mapped
// nothing during it (goMapped unchanged): the cap then still leaves the
// worker the whole slack, and the next invocation would set it again.
func (c *memCap) release(goMapped uint64) error {
	if goMapped == c.goMapped {
		return nil
	}
	return c.set(c.hard)
}

func (c *memCap) set(v uint64) error {
	if v == c.cur {
		return nil
	}
	if err := unix.Setrlimit(unix.RLIMIT_AS, &unix.Rlimit{Cur: v, Max: c.hard}); err != nil {
		return err
	}
	c.cur = v
	return nil
}
