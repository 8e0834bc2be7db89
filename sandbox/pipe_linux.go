package sandbox

import (
	"io"
	"os"
	"syscall"
	"unsafe"
)

// rawPipe reads and writes a non-blocking pipe with raw read(2) and
// write(2), waiting in the Go netpoller (deadlines included) only when the
// pipe is empty or full. A plain os.File makes each read and write an
// entersyscall/exitsyscall pair, and entering a system call wakes the Go
// runtime's sysmon thread whenever it was in its deep sleep — which it is
// whenever the process was idle, so between the frames of every
// invocation: measured at a quarter of a worker round trip's CPU on both
// sides (a futex wake, then sysmon's 20 µs naps until it sleeps again). A
// read or write of a non-blocking pipe returns at once, so it needs no
// scheduler handoff.
type rawPipe struct {
	f  *os.File
	rc syscall.RawConn
}

// newRawPipe wraps f, which must be pollable (non-blocking); anything else
// is returned as it is.
func newRawPipe(f *os.File) io.ReadWriter {
	rc, err := f.SyscallConn()
	if err != nil {
		return f
	}
	return &rawPipe{f: f, rc: rc}
}

func (p *rawPipe) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := p.rc.Read(func(fd uintptr) bool {
		for {
			r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // wait until readable
			}
			n, errno = int(r), e
			return true
		}
	})
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, &os.PathError{Op: "read", Path: p.f.Name(), Err: errno}
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (p *rawPipe) Write(b []byte) (int, error) {
	written := 0
	var errno syscall.Errno
	err := p.rc.Write(func(fd uintptr) bool {
		for written < len(b) {
			r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[written])), uintptr(len(b)-written))
			switch e {
			case 0:
				written += int(r)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false // wait until writable
			default:
				errno = e
				return true
			}
		}
		return true
	})
	if err == nil && errno != 0 {
		err = &os.PathError{Op: "write", Path: p.f.Name(), Err: errno}
	}
	return written, err
}
