package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

// parentGrace is how far past a limit the parent lets a worker run before
// killing it. The worker polices itself first (Interrupt, then exit after
// overrunGrace); this catches a worker that cannot.
const parentGrace = 250 * time.Millisecond

// cpuPoll is how often the parent samples the CPU time of a worker whose
// invocation has outlived its CPU limit.
const cpuPoll = 50 * time.Millisecond

// workerProc is the parent's handle on one worker process.
type workerProc struct {
	cmd    *exec.Cmd
	pid    int
	fw     *frameWriter
	stdin  io.Closer
	out    *bufio.Reader
	stderr *headBuffer
	// cpu reads the worker's CPU time from /proc; nil where unsupported.
	cpu   *cpuReader
	cpuMu sync.Mutex

	// cancelGrace: see PoolOptions.CancelGrace.
	cancelGrace time.Duration

	exited  chan struct{}
	waitErr error
	// killedFor is why the parent killed the worker (a *LimitError or a
	// context error); nil when the worker died by itself.
	killedFor atomic.Pointer[error]
	// dead is set once the worker must not be reused.
	dead atomic.Bool

	// cancel carries the number of an invocation its caller gave up on
	// (see cancelInvocation); seq numbers the invocations sent so far.
	cancel *os.File
	seq    uint64

	// Per-invocation state reused across invocations (one runs at a time).
	watch   limitWatch
	taskBuf []byte
}

// startWorker execs a worker: empty environment but the worker marker and
// its configuration (see Pool.workerEnviron), no inherited files beyond the
// protocol pipes, its own process group; it waits for the worker's hello.
func startWorker(ctx context.Context, exe string, args, env []string, timeout time.Duration) (*workerProc, error) {
	cmd := exec.Command(exe, args...)
	cmd.Env = env
	cmd.Dir = "/"
	cmd.SysProcAttr = workerSysProcAttr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("sandbox: worker stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("sandbox: worker stdout: %w", err)
	}
	// The cancel pipe is the worker's descriptor 3.
	cancelR, cancelW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("sandbox: worker cancel pipe: %w", err)
	}
	cmd.ExtraFiles = []*os.File{cancelR}
	w := &workerProc{cmd: cmd, stdin: stdin, stderr: &headBuffer{max: 4 << 10}, exited: make(chan struct{}), cancel: cancelW}
	w.watch.w = w
	cmd.Stderr = w.stderr
	err = cmd.Start()
	cancelR.Close()
	if err != nil {
		cancelW.Close()
		return nil, fmt.Errorf("sandbox: start worker %s: %w", exe, err)
	}
	w.pid = cmd.Process.Pid
	w.fw = &frameWriter{w: stdin}
	if f, ok := stdin.(*os.File); ok {
		w.fw.w = newRawPipe(f)
	}
	if f, ok := stdout.(*os.File); ok {
		w.out = bufio.NewReaderSize(newRawPipe(f), 64<<10)
	} else {
		w.out = bufio.NewReaderSize(stdout, 64<<10)
	}
	w.cpu, _ = newCPUReader(w.pid)
	go func() {
		w.waitErr = cmd.Wait()
		w.cpuMu.Lock()
		if w.cpu != nil {
			w.cpu.close()
			w.cpu = nil
		}
		w.cpuMu.Unlock()
		w.dead.Store(true)
		_ = w.cancel.Close()
		close(w.exited)
	}()

	hello := make(chan error, 1)
	go func() {
		typ, _, err := readFrame(w.out, 16)
		if err == nil && typ != frameHello {
			err = fmt.Errorf("unexpected frame %q", typ)
		}
		hello <- err
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case err = <-hello:
	case <-timer.C:
		err = fmt.Errorf("no hello within %v", timeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		w.kill(nil)
		<-w.exited
		if ctx.Err() != nil {
			return nil, fmt.Errorf("sandbox: starting a worker: %w", ctx.Err())
		}
		return nil, fmt.Errorf("%w: worker did not start: %v%s", ErrWorkerCrashed, err, w.stderrDetail())
	}
	return w, nil
}

// kill SIGKILLs the worker's process group, recording why.
func (w *workerProc) kill(reason error) {
	if reason != nil {
		w.killedFor.CompareAndSwap(nil, &reason)
	}
	w.dead.Store(true)
	killGroup(w.pid)
}

// close ends an idle worker: closing stdin makes it exit; kill makes sure.
func (w *workerProc) close() {
	w.dead.Store(true)
	_ = w.stdin.Close()
	select {
	case <-w.exited:
	case <-time.After(100 * time.Millisecond):
		w.kill(nil)
	}
}

// defaultCancelGrace is PoolOptions.CancelGrace's default: a worker
// interrupts a cancelled isolate within milliseconds, so a second is only
// reached by a builtin that ignores interrupts (or a machine under load).
const defaultCancelGrace = time.Second

// attempt is what the parent saw of one run of a task on a worker.
type attempt struct {
	// sideEffects: the worker asked for a host call that may change
	// something (anything but a read), so running the task again on
	// another worker would not be transparent.
	sideEffects bool
}

// run performs one task on the worker. The error is the task's outcome
// error when the worker reported one, or the reason the worker died. When
// ctx ends, the worker is asked to stop the invocation (it interrupts the
// isolate and reports), and killed only if it does not within w.cancelGrace.
func (w *workerProc) run(ctx context.Context, t *task, script []byte, host Host, g *gate, at *attempt) (outcome, error) {
	l := t.Limits
	maxFrame := l.ResultBytes + 8*l.LogBytes + l.RequestBytes + 1<<20

	// Outside enforcement: the wall limit, and the worker's CPU time once the
	// invocation has outlived its CPU limit (builtins ignore Interrupt).
	w.watch.start(l)
	defer w.watch.stop()
	w.seq++
	seq := w.seq
	if ctx.Done() != nil {
		var killLater *time.Timer
		cancelled := make(chan struct{})
		stopCtx := context.AfterFunc(ctx, func() {
			defer close(cancelled)
			if err := w.cancelInvocation(seq); err != nil {
				w.kill(ctx.Err())
				return
			}
			killLater = time.AfterFunc(w.cancelGrace, func() { w.kill(ctx.Err()) })
		})
		defer func() {
			if !stopCtx() {
				// The cancellation ran: keep its kill timer from hitting the
				// worker's next task.
				<-cancelled
				if killLater != nil {
					killLater.Stop()
				}
			}
		}()
	}

	// Host calls run concurrently and are cancelled when the task ends. A
	// worker drains its calls before reporting, so calls are left over only
	// when it failed; their late answers are dropped here (and a worker
	// ignores answers to calls it no longer waits for). Not waiting for
	// them keeps a Host that ignores cancellation from holding the worker.
	// Their context is made with the first call: most hooks make none.
	callCtx := lazyContext{parent: ctx}
	var finished atomic.Bool
	defer func() {
		finished.Store(true)
		callCtx.cancel()
	}()
	// An honest worker has at most maxPendingCalls calls in flight; one
	// that floods the parent is broken or compromised.
	var inflight atomic.Int64
	var calls callCancels

	w.taskBuf = encodeTask(w.taskBuf[:0], t)
	payload := w.taskBuf
	if cap(payload) > 64<<10 {
		w.taskBuf = nil
	}
	if err := w.fw.write(frameInvoke, payload); err != nil {
		return w.died(err, l.MemoryBytes)
	}
	for {
		typ, p, err := readFrame(w.out, maxFrame)
		if err != nil {
			return w.died(err, l.MemoryBytes)
		}
		switch typ {
		case frameNeed:
			if string(p) != t.Hash {
				return outcome{}, w.misbehaved("asked for an unknown script")
			}
			w.watch.allow(compileAllowance)
			if err := w.fw.write(frameScript, []byte(t.Hash), []byte{'\n'}, script); err != nil {
				return w.died(err, l.MemoryBytes)
			}
		case frameCall:
			id, method, args, err := decodeCall(p)
			if err != nil {
				return outcome{}, w.misbehaved(err.Error())
			}
			if !readOnlyMethod(method) {
				at.sideEffects = true
			}
			if inflight.Add(1) > maxPendingCalls {
				return outcome{}, w.misbehaved("too many host calls in flight")
			}
			ctx := calls.add(callCtx.get(), id)
			go func() {
				defer inflight.Add(-1)
				defer calls.done(id)
				a := answerCall(ctx, g, host, t.PluginID, id, method, args)
				if finished.Load() {
					return
				}
				_ = w.fw.write(frameAnswer, encodeAnswer(a)...)
			}()
		case frameCancel:
			if len(p) != 8 {
				return outcome{}, w.misbehaved("malformed cancel frame")
			}
			calls.cancel(binary.BigEndian.Uint64(p))
		case frameDone:
			out, err := decodeDone(p)
			if err != nil {
				return outcome{}, w.misbehaved(err.Error())
			}
			return out, nil
		case frameFatal:
			var rep fatalReport
			if err := json.Unmarshal(p, &rep); err != nil || rep.Limit == "" {
				return outcome{}, w.misbehaved("malformed fatal frame")
			}
			w.kill(&rep.LimitError)
			return outcome{Usage: Usage{CPU: rep.CPU}}, &rep.LimitError
		default:
			return outcome{}, w.misbehaved(fmt.Sprintf("unexpected frame %q", typ))
		}
	}
}

// lazyContext is a cancellable child of parent made when first needed.
type lazyContext struct {
	parent context.Context
	ctx    context.Context
	stop   context.CancelFunc
}

func (c *lazyContext) get() context.Context {
	if c.ctx == nil {
		c.ctx, c.stop = context.WithCancel(c.parent)
	}
	return c.ctx
}

func (c *lazyContext) cancel() {
	if c.stop != nil {
		c.stop()
	}
}

// cancelInvocation tells the worker to stop invocation seq.
func (w *workerProc) cancelInvocation(seq uint64) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seq)
	// A worker that does not read its cancel pipe (a broken one) must not
	// block the parent.
	if err := w.cancel.SetWriteDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
		return err
	}
	_, err := w.cancel.Write(b[:])
	return err
}

// readOnlyMethod reports whether a host method only reads (so a task that
// made no other calls can run again elsewhere without doing anything twice).
func readOnlyMethod(method string) bool {
	m, _, ok := manifest.ResolveHostCall(method)
	return ok && m.ReadOnly
}

// limitWatch is the parent's enforcement of one invocation's limits from
// outside: it kills the worker past the wall limit plus parentGrace, and
// past the CPU limit plus grace of CPU burned. It reads the worker's CPU
// time only once the invocation has outlived its CPU limit plus the grace
// period (no /proc read on the fast path), and kills the worker once the
// CPU it burned *since that first reading* exceeds the limit plus grace: a
// lower bound of its usage, so a worker that mostly waited on host calls is
// never killed by mistake.
//
// It is one timer per worker, armed for each invocation and disarmed at its
// end (no allocation, no callback per invocation), replacing a wall timer
// and a CPU timer per invocation.
type limitWatch struct {
	w *workerProc

	mu     sync.Mutex
	timer  *time.Timer
	active bool
	limits Limits
	wallAt time.Time // when the wall limit plus grace has passed
	first  time.Duration
	read   bool          // first holds a reading
	extra  time.Duration // allowance for compiling a script first
	burned time.Duration // the CPU seen burned since first, when fire killed for it
}

// compileAllowance is extra CPU the parent tolerates when the worker must
// compile the script first (a 4 MiB bundle takes a few hundred ms).
const compileAllowance = 2 * time.Second

func (c *limitWatch) start(l Limits) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	c.active, c.limits, c.wallAt, c.first, c.read, c.extra, c.burned = true, l, now.Add(l.Wall+parentGrace), 0, false, 0, 0
	first := min(l.CPU, l.Wall) + parentGrace
	if c.timer == nil {
		c.timer = time.AfterFunc(first, c.fire)
	} else {
		c.timer.Reset(first)
	}
}

// allow raises the CPU the worker may burn before the backstop kills it.
func (c *limitWatch) allow(d time.Duration) {
	c.mu.Lock()
	c.extra += d
	c.mu.Unlock()
}

// burnedAtKill is the CPU the worker burned between the first reading and
// the CPU kill (a lower bound of the invocation's), 0 if fire did not kill
// it for CPU.
func (c *limitWatch) burnedAtKill() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.burned
}

func (c *limitWatch) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active = false
	c.timer.Stop()
}

// fire runs on the timer's goroutine. Everything happens under the lock,
// so once stop returned no kill can reach the worker's next invocation. A
// firing that was already under way when stop ran may reach the lock only
// after the next invocation started: it then checks that invocation's own
// deadline and CPU (a reading taken early only makes the backstop's lower
// bound of its usage start sooner), so it cannot kill it for its
// predecessor.
func (c *limitWatch) fire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.active {
		return
	}
	l := c.limits
	now := time.Now()
	if !now.Before(c.wallAt) {
		c.w.kill(wallLimit(l.Wall))
		return
	}
	next := cpuPoll
	if used, err := c.w.readCPU(); err == nil {
		if !c.read {
			c.first, c.read = used, true
		} else if used-c.first > l.CPU+parentGrace+c.extra {
			c.burned = used - c.first
			c.w.kill(cpuLimit(l.CPU))
			return
		}
	} else {
		// No CPU reading (not Linux, or the worker is gone): only the
		// wall limit is left to enforce.
		next = c.wallAt.Sub(now)
	}
	c.timer.Reset(min(next, c.wallAt.Sub(now)))
}

// readCPU samples the worker's CPU time; the reader is shared by the
// invocation and its watchdog timer.
func (w *workerProc) readCPU() (time.Duration, error) {
	w.cpuMu.Lock()
	defer w.cpuMu.Unlock()
	if w.cpu == nil {
		return 0, errors.ErrUnsupported
	}
	return w.cpu.read()
}

// misbehaved kills a worker that broke the protocol.
func (w *workerProc) misbehaved(what string) error {
	w.kill(nil)
	return fmt.Errorf("%w: protocol violation: %s", ErrWorkerCrashed, what)
}

// died explains why the pipe to the worker broke: the parent's own kill
// reason, else what the Go runtime printed when it died. The outcome
// carries the CPU the parent saw burned when that was the reason.
func (w *workerProc) died(ioErr error, memory int64) (outcome, error) {
	if errors.Is(ioErr, errFrameTooLarge) {
		w.kill(nil)
		return outcome{}, fmt.Errorf("%w: %v", ErrWorkerCrashed, ioErr)
	}
	w.dead.Store(true)
	select {
	case <-w.exited:
	case <-time.After(2 * time.Second):
		w.kill(nil)
		<-w.exited
	}
	if reason := w.killedFor.Load(); reason != nil {
		return outcome{Usage: Usage{CPU: w.watch.burnedAtKill()}}, *reason
	}
	return outcome{}, crashReason(w.stderr.String(), w.waitErr, memory)
}

// crashReason classifies a worker's death from the Go runtime's last words.
func crashReason(stderr string, waitErr error, memory int64) error {
	switch {
	case strings.Contains(stderr, "out of memory"),
		strings.Contains(stderr, "cannot allocate memory"),
		strings.Contains(stderr, "failed to reserve page summary memory"),
		// Thread stacks count against the address-space cap too.
		strings.Contains(stderr, "failed to create new OS thread"),
		strings.Contains(stderr, "pthread_create failed"),
		// How a race-detector build reports the same.
		strings.Contains(stderr, "too many address space collisions"):
		return memoryLimit(memory)
	case strings.Contains(stderr, "stack exceeds"),
		strings.Contains(stderr, "stack overflow"):
		return &LimitError{Limit: LimitStack, Value: fmtBytes(workerMaxStack) + " Go stack"}
	}
	detail := firstLine(stderr)
	if detail == "" && waitErr != nil {
		detail = waitErr.Error()
	}
	if detail == "" {
		detail = "exited"
	}
	return fmt.Errorf("%w: %s", ErrWorkerCrashed, detail)
}

func (w *workerProc) stderrDetail() string {
	if s := firstLine(w.stderr.String()); s != "" {
		return ": " + s
	}
	return ""
}

func firstLine(s string) string {
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			return truncate(line, 200)
		}
	}
	return ""
}

// headBuffer keeps the first max bytes written to it (the Go runtime's
// fatal error line comes first; the goroutine dump after it is noise).
type headBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (h *headBuffer) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if room := h.max - h.buf.Len(); room > 0 {
		h.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (h *headBuffer) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.buf.String()
}
