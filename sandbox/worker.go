package sandbox

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The worker is this same binary started with workerArg as its only
// argument and workerEnv=1 in an otherwise empty environment. Both are
// needed so that no user command line can enter worker mode by accident.
const (
	workerArg    = "__pilcrow-sandbox-worker"
	workerEnv    = "PILCROW_SANDBOX_WORKER"
	workerMemEnv = "PILCROW_SANDBOX_MEMORY"
	workerUIDEnv = "PILCROW_SANDBOX_UID"
	workerGIDEnv = "PILCROW_SANDBOX_GID"
)

// workerMaxStack caps goroutine stacks in workers: a parser bomb then dies
// quickly with "stack exceeds limit" (reported as the stack limit) instead of
// growing a gigabyte first.
const workerMaxStack = 256 << 20

// workerGCPercent is the workers' GOGC (see serveWorker).
const workerGCPercent = 400

// compileLimit bounds compiling one script in a worker; a legitimate 4 MiB
// bundle compiles in a fraction of it.
const compileLimit = time.Second

// maxParentFrame bounds what a worker accepts from its (trusted) parent.
const maxParentFrame = 1 << 30

// workerPrograms is the worker's compiled-program cache.
var workerPrograms = newProgramCache(64)

// MaybeRunWorker turns this process into a sandbox worker when it was
// started as one by a Pool, and then never returns. main() and every
// TestMain of a package that starts a Pool must call it first.
func MaybeRunWorker() {
	if len(os.Args) != 2 || os.Args[1] != workerArg || os.Getenv(workerEnv) != "1" {
		return
	}
	// Nothing ever reads a worker's heap profile; sampling it took a stack
	// trace every 512 KiB allocated (about 1% of a trivial hook's CPU).
	runtime.MemProfileRate = 0
	c := confinedWorker()
	// A pollable stdin lets the watchdog interrupt a read blocked on the
	// parent with a deadline; pollable pipes are also what lets frames
	// travel by raw system calls (see rawPipe).
	in, out := int(os.Stdin.Fd()), int(os.Stdout.Fd())
	_ = syscall.SetNonblock(in, true)
	_ = syscall.SetNonblock(out, true)
	_ = syscall.SetNonblock(cancelFD, true)
	os.Exit(serveWorker(os.NewFile(uintptr(in), "parent"), os.NewFile(cancelFD, "cancel"), newRawPipe(os.NewFile(uintptr(out), "parent-out")), c.memory))
}

// workerConfig is what the parent tells a worker through its environment.
type workerConfig struct {
	memory   int64
	uid, gid int // to switch to when started as root
	ppid     int
}

// confinedWorker reads the worker's configuration and confines the
// process (exiting if it cannot); test workers start with it too.
func confinedWorker() workerConfig {
	c := workerConfig{ppid: os.Getppid()}
	c.memory, _ = strconv.ParseInt(os.Getenv(workerMemEnv), 10, 64)
	if c.memory <= 0 {
		c.memory = DefaultLimits.MemoryBytes
	}
	c.uid, _ = strconv.Atoi(os.Getenv(workerUIDEnv))
	c.gid, _ = strconv.Atoi(os.Getenv(workerGIDEnv))
	if err := confineWorker(c); err != nil {
		fmt.Fprintf(os.Stderr, "sandbox worker: confine: %v\n", err)
		os.Exit(2)
	}
	return c
}

// serveWorker runs the worker protocol until the parent closes the pipe.
// All reading happens on this goroutine: an extra reader goroutine would
// cost a wake-up per frame.
func serveWorker(in, cancels *os.File, out io.Writer, memory int64) int {
	debug.SetMaxStack(workerMaxStack)
	// The Go heap holds the worker's own few MiB plus one invocation. Fresh
	// isolates make garbage, not live data: collect less often (a quarter
	// of the GC work at GOGC=100, measured at −25% wall time for a
	// text-processing hook); the memory limit, set per invocation
	// (armMemory), still bounds the heap.
	debug.SetMemoryLimit(memory + 64<<20)
	debug.SetGCPercent(workerGCPercent)

	warmUp()

	fw := &frameWriter{w: out}
	link := &pipeLink{fw: fw, in: in, fr: &frameReader{r: bufio.NewReaderSize(newRawPipe(in), 64<<10), max: maxParentFrame}}
	if cancels != nil {
		go link.readCancels(cancels)
	}
	if err := fw.write(frameHello); err != nil {
		return 1
	}
	overrun := func(le *LimitError, cpu time.Duration) {
		// A builtin ignores the interrupt: report the limit and die; the
		// parent replaces this worker.
		b, _ := json.Marshal(fatalReport{LimitError: *le, CPU: cpu})
		_ = fw.write(frameFatal, b)
		os.Exit(3)
	}
	for {
		typ, payload, err := link.fr.next()
		if err != nil {
			return 0 // the parent closed the pipe
		}
		switch typ {
		case frameAnswer:
			continue // to a call of an invocation that already ended
		case frameInvoke:
		default:
			fmt.Fprintf(os.Stderr, "sandbox worker: unexpected frame %q\n", typ)
			return 1
		}
		link.seq.Add(1)
		t, err := decodeTask(payload)
		if err != nil {
			fmt.Fprintf(os.Stderr, "sandbox worker: bad task: %v\n", err)
			return 1
		}
		t.Limits = t.Limits.withDefaults()
		res, ok := link.run(t, overrun)
		if !ok {
			return 1
		}
		parts, err := encodeDone(res)
		if err != nil {
			parts, _ = encodeDone(outcome{Usage: res.Usage, Err: fmt.Errorf("sandbox worker: encode result: %w", err)})
		}
		if err := fw.write(frameDone, parts...); err != nil {
			return 1
		}
		// Leave the next invocation a small heap to measure against, and
		// return the memory now rather than have the background scavenger
		// charge the next invocation's CPU for it.
		if link.heapEnd.objects > 32<<20 {
			debug.FreeOSMemory()
		}
	}
}

// run fetches the task's script if needed and runs the task; false means
// the protocol broke.
func (l *pipeLink) run(t *task, overrun overrunFunc) (outcome, bool) {
	s := workerPrograms.get(t.Hash)
	if s == nil {
		if err := l.fw.write(frameNeed, []byte(t.Hash)); err != nil {
			return outcome{}, false
		}
		typ, payload, err := l.fr.next()
		if err != nil {
			return outcome{}, false
		}
		hash, src, found := bytes.Cut(payload, []byte{'\n'})
		if typ != frameScript || !found || string(hash) != t.Hash {
			fmt.Fprintf(os.Stderr, "sandbox worker: expected the script for %s\n", t.Hash)
			return outcome{}, false
		}
		// Parsing cannot be interrupted: past compileLimit the worker gives
		// up and dies (the parent's backstop would kill it a bit later).
		watchdog := time.AfterFunc(compileLimit, func() {
			overrun(&LimitError{Limit: LimitCPU, Value: fmtDuration(compileLimit) + " to compile the script"}, 0)
		})
		s, err = workerPrograms.compiled(t.Hash, src)
		watchdog.Stop()
		if err != nil {
			return outcome{Err: err}, true
		}
	}
	l.wakeMu.Lock()
	l.running = true
	l.wakeMu.Unlock()
	out := runTask(t, s, l, overrun)
	l.wakeMu.Lock()
	l.running = false
	if l.woken {
		// The watchdog interrupted a read; clear the deadline for the next
		// invocation (the frame reader kept any partial frame).
		l.woken = false
		_ = l.in.SetReadDeadline(time.Time{})
	}
	l.wakeMu.Unlock()
	// The cap was set when the invocation's watchdog started (watch).
	if l.disarm != nil {
		l.heapEnd = l.last.end
		l.disarm(l.heapEnd.total)
		l.disarm, l.last = nil, nil
	} else {
		l.heapEnd = heapSample()
	}
	return out, true
}

// pipeLink sends host calls to the parent and reads its answers.
type pipeLink struct {
	fw *frameWriter
	in *os.File
	fr *frameReader
	// wakeMu guards woken and running: a late trip (a cancellation that
	// arrives as the invocation ends) must not leave a read deadline for
	// the next frame.
	wakeMu  sync.Mutex
	woken   bool
	running bool

	// seq numbers the invocations received (the parent counts the same
	// way); cancelled is the last one the parent gave up on; guard
	// watches the running one.
	seq, cancelled atomic.Uint64
	guard          atomic.Pointer[guard]

	// last is the running invocation's guard (kept after it ended, for its
	// final heap reading); disarm lifts its memory cap; heapEnd is the
	// heap when the last invocation ended.
	last    *guard
	disarm  func(total uint64)
	heapEnd heapStats
}

// cancelFD is the worker's end of the cancel pipe (the parent's ExtraFiles).
const cancelFD = 3

// readCancels reads the numbers of invocations the parent gave up on: 8
// bytes each, big-endian. A cancelled invocation is interrupted like one
// over its limits (and the worker exits if a builtin ignores that), so its
// worker is free again at once.
func (l *pipeLink) readCancels(f *os.File) {
	var b [8]byte
	for {
		if _, err := io.ReadFull(f, b[:]); err != nil {
			return
		}
		seq := binary.BigEndian.Uint64(b[:])
		l.cancelled.Store(seq)
		if g := l.guard.Load(); g != nil && l.seq.Load() == seq {
			g.trip(cancelledLimit)
		}
	}
}

// cancelledLimit stops an invocation whose caller gave up; the parent
// reports the caller's context error instead.
var cancelledLimit = &LimitError{Limit: "cancelled", Value: "by the caller"}

// watch runs on the isolate's goroutine; see readCancels for the other
// side. Starting an invocation also arms its memory limit, from the heap
// reading its guard just took.
func (l *pipeLink) watch(g *guard) {
	if g != nil {
		l.last = g
		l.disarm = armMemory(g.limits.MemoryBytes, g.base)
	}
	l.guard.Store(g)
	if g != nil && l.cancelled.Load() == l.seq.Load() {
		g.trip(cancelledLimit)
	}
}

func (l *pipeLink) send(id uint64, method string, args []byte) error {
	return l.fw.write(frameCall, encodeCall(id, method, args)...)
}

func (l *pipeLink) recv(_ <-chan struct{}, until time.Time) (hostAnswer, error) {
	if !until.IsZero() {
		// The watchdog's wake sets a deadline of its own; it must win.
		l.wakeMu.Lock()
		if !l.woken {
			_ = l.in.SetReadDeadline(until)
		}
		l.wakeMu.Unlock()
		defer func() {
			l.wakeMu.Lock()
			if !l.woken {
				_ = l.in.SetReadDeadline(time.Time{})
			}
			l.wakeMu.Unlock()
		}()
	}
	typ, p, err := l.fr.next()
	if err != nil {
		l.wakeMu.Lock()
		woken := l.woken
		l.wakeMu.Unlock()
		if !until.IsZero() && errors.Is(err, os.ErrDeadlineExceeded) && !woken {
			return hostAnswer{}, errRecvTimeout
		}
		return hostAnswer{}, err
	}
	if typ != frameAnswer {
		return hostAnswer{}, fmt.Errorf("sandbox worker: unexpected frame %q while waiting for an answer", typ)
	}
	return decodeAnswer(p)
}

func (l *pipeLink) cancel(id uint64) {
	_ = l.fw.write(frameCancel, binary.BigEndian.AppendUint64(nil, id))
}

// wake runs on the watchdog's goroutine.
func (l *pipeLink) wake() {
	l.wakeMu.Lock()
	defer l.wakeMu.Unlock()
	if !l.running {
		return
	}
	l.woken = true
	_ = l.in.SetReadDeadline(time.Now())
}

// armMemory prepares the worker for an invocation limited to limit bytes,
// given a heap reading taken as it starts: the garbage collector's soft
// memory limit becomes what the Go runtime holds now plus limit, so
// garbage is collected before it could pass for the invocation's memory
// (see guard.overAtEnd), and its address space is capped (see memCap). The
// returned function lifts the cap, given the Go runtime's mapped memory
// when the invocation ended.
func armMemory(limit int64, now heapStats) (disarm func(total uint64)) {
	debug.SetMemoryLimit(int64(now.total-now.released) + limit)
	if workerMemCap == nil {
		return func(uint64) {}
	}
	if err := workerMemCap.limit(uint64(limit)+memCapSlack, now.total); err != nil {
		fmt.Fprintf(os.Stderr, "sandbox worker: %v\n", err)
	}
	return func(total uint64) { _ = workerMemCap.release(total) }
}
