package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// PoolOptions configures a Pool. Zero values take the documented defaults.
type PoolOptions struct {
	// Size is the number of worker processes (default GOMAXPROCS). Each runs
	// one invocation at a time.
	Size int
	// Executable is the binary to start as a worker (default os.Executable()).
	// Its main (or TestMain) must call MaybeRunWorker first.
	Executable string
	// Args are the worker's arguments (default: the hidden worker argument).
	Args []string
	// MaxMemoryBytes sizes the workers' address-space limits; an invocation
	// whose memory limit is higher is lowered to it (default
	// DefaultLimits.MemoryBytes).
	MaxMemoryBytes int64
	// StartTimeout bounds a worker's start-up (default 10 s).
	StartTimeout time.Duration
	// MaxTasksPerWorker retires a worker after this many tasks (default
	// 10000), bounding whatever state a long-lived process accumulates —
	// heap fragmentation, or anything a plugin might have left behind in
	// the worker despite the fresh isolates.
	MaxTasksPerWorker int
	// WorkerUID and WorkerGID are the unprivileged user and group workers
	// switch to when the server runs as root (default 65534, "nobody").
	// Workers of a server that is not root keep its user.
	WorkerUID, WorkerGID int
	// CancelGrace is how long a worker has to stop an invocation whose
	// caller gave up (the isolate is interrupted) and report, before the
	// parent kills it (default 1 s). A builtin that ignores interrupts
	// costs its worker after this long.
	CancelGrace time.Duration

	// onStart, when set (tests), learns the pid of every worker started. It
	// is an option, not a field set after NewPool, because the pool's
	// warm-up goroutine starts workers at once.
	onStart func(pid int)
	Logger  *slog.Logger
}

// defaultWorkerID is the uid and gid of root servers' workers: "nobody".
const defaultWorkerID = 65534

// PoolStats counts what a pool's workers did.
type PoolStats struct {
	Started     int64 // worker processes started
	Invocations int64 // tasks run (hooks, routes and inspections)
	Killed      int64 // workers killed or self-terminated over a limit or cancellation
	Crashed     int64 // workers that died for another reason (a worker fault)
	// Retried counts invocations run again on a fresh worker after a
	// worker fault; Cancelled, invocations whose caller gave up (the
	// worker stopped them and lived on, unless it had to be killed).
	Retried   int64
	Cancelled int64
}

// Pool runs invocations in supervised worker processes.
type Pool struct {
	opts PoolOptions
	log  *slog.Logger
	// idle holds the slots not running an invocation, the most recently
	// released last; tokens holds one value per slot in idle, so waiting
	// for a slot can be cancelled. acquire takes the top of the stack: the
	// worker that ran last, whose caches and Go runtime are still warm,
	// while the others sleep. A queue (the oldest idle worker first) made a
	// sequential load rotate through every worker, each woken from its
	// deepest idle state, which cost CPU on both sides of every invocation
	// (BenchmarkInvokeSequential).
	idleMu sync.Mutex
	idle   []*slot
	tokens chan struct{}
	closed chan struct{}
	once   sync.Once

	started, invocations, killed, crashed, retried, cancelled atomic.Int64
}

// slot is one worker position: its process (nil until started or after a
// death) and its restart backoff.
type slot struct {
	w        *workerProc
	tasks    int // run by w
	failures int
	notUntil time.Time
}

// NewPool creates a pool and starts its workers in the background, so it
// returns at once; an Invoke that arrives first starts its worker itself.
// ctx bounds the background start-up only.
func NewPool(ctx context.Context, opts PoolOptions) (*Pool, error) {
	if opts.Size <= 0 {
		opts.Size = runtime.GOMAXPROCS(0)
	}
	if opts.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("sandbox: locate the worker executable: %w", err)
		}
		opts.Executable = exe
	}
	if opts.Args == nil {
		opts.Args = []string{workerArg}
	}
	if opts.MaxMemoryBytes <= 0 {
		opts.MaxMemoryBytes = DefaultLimits.MemoryBytes
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 10 * time.Second
	}
	if opts.MaxTasksPerWorker <= 0 {
		opts.MaxTasksPerWorker = 10000
	}
	if opts.CancelGrace <= 0 {
		opts.CancelGrace = defaultCancelGrace
	}
	if opts.WorkerUID <= 0 {
		opts.WorkerUID = defaultWorkerID
	}
	if opts.WorkerGID <= 0 {
		opts.WorkerGID = defaultWorkerID
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	protectServer(opts.Logger)
	p := &Pool{
		opts: opts, log: opts.Logger.With("component", "sandbox"),
		tokens: make(chan struct{}, opts.Size), closed: make(chan struct{}),
	}
	for range opts.Size {
		p.idle = append(p.idle, &slot{})
		p.tokens <- struct{}{}
	}
	go p.warm(ctx)
	return p, nil
}

// warm starts every idle worker that is not running yet.
func (p *Pool) warm(ctx context.Context) {
	for range p.opts.Size {
		s, err := p.take(ctx, true)
		if err != nil {
			return
		}
		if err := p.ensure(ctx, s); err != nil {
			p.log.Warn("sandbox worker did not start", "err", err)
		}
		p.release(s)
	}
}

// Invoke runs one hook or route call in a fresh isolate on a worker. On
// failure the Result, when non-nil, still carries the logs and usage of
// the attempt; errors are *LimitError, *ScriptError or match the package's
// sentinels.
func (p *Pool) Invoke(ctx context.Context, inv *Invocation, host Host) (*Result, error) {
	if err := inv.validate(); err != nil {
		return nil, err
	}
	limits := inv.Limits.withDefaults()
	limits.MemoryBytes = min(limits.MemoryBytes, p.opts.MaxMemoryBytes)
	t := newTask(inv, limits)
	start := time.Now()
	out, g, err := p.attempts(ctx, t, inv.Script, host, func() *gate { return newGate(inv.Grants, limits) })
	subrequests, tripped := g.state()
	if err != nil {
		if tripped != nil {
			err = tripped
		}
		// The worker died before it could report: the wall time is ours,
		// the CPU what its last report or the parent's kill knew of.
		return &Result{Usage: Usage{CPU: out.Usage.CPU, Wall: time.Since(start), Subrequests: subrequests}}, err
	}
	out.Usage.Subrequests = subrequests
	res := &Result{Value: out.Value, Logs: out.Logs, Usage: out.Usage}
	if tripped != nil {
		return res, tripped
	}
	// Stack positions name the author's files, mapped here in the parent
	// (sourcemap.go): the worker never sees a map.
	return res, mapScriptError(inv.Script, t.Hash, out.Err)
}

// Inspect evaluates a plugin script's top level in a worker, under the
// default limits, and lists the functions its default export provides.
// Parsing hostile source can exhaust the Go stack, so this is the only safe
// way to look inside an uploaded bundle.
func (p *Pool) Inspect(ctx context.Context, script []byte) (*Exports, error) {
	if len(script) == 0 {
		return nil, fmt.Errorf("%w: empty script", ErrInvalidInvocation)
	}
	limits := DefaultLimits
	limits.MemoryBytes = min(limits.MemoryBytes, p.opts.MaxMemoryBytes)
	t := &task{Hash: hashScript(script), Kind: kindInspect, Limits: limits}
	out, _, err := p.attempts(ctx, t, script, nil, func() *gate { return newGate(Grants{}, limits) })
	if err != nil {
		return nil, err
	}
	if out.Err != nil {
		return nil, mapScriptError(script, t.Hash, out.Err)
	}
	if out.Exports == nil {
		return nil, fmt.Errorf("%w: no exports reported", ErrWorkerCrashed)
	}
	return out.Exports, nil
}

// attempts runs a task, and runs it once more on a fresh worker when its
// worker failed for a reason that is not the invocation's own — it crashed,
// or was killed from outside — and the first run asked for no host call
// that changes anything. A fault that persists is ErrWorkerFault. gate
// makes each run's fresh gate; the one returned is the last run's.
func (p *Pool) attempts(ctx context.Context, t *task, script []byte, host Host, gate func() *gate) (outcome, *gate, error) {
	g := gate()
	var at attempt
	out, err := p.do(ctx, t, script, host, g, &at)
	if !isWorkerFault(err) || ctx.Err() != nil {
		return out, g, err
	}
	if !at.sideEffects {
		p.retried.Add(1)
		p.log.Warn("sandbox: running the invocation again on a fresh worker", "err", err)
		g, at = gate(), attempt{}
		out, err = p.do(ctx, t, script, host, g, &at)
		if !isWorkerFault(err) || ctx.Err() != nil {
			return out, g, err
		}
	}
	return out, g, fmt.Errorf("%w: %w", ErrWorkerFault, err)
}

// isWorkerFault: the worker died or broke for a reason other than the
// invocation's limits.
func isWorkerFault(err error) bool {
	var le *LimitError
	return err != nil && errors.Is(err, ErrWorkerCrashed) && !errors.Is(err, ErrWorkerFault) && !errors.As(err, &le)
}

// do runs a task on an idle worker. A worker that died is dropped from its
// slot and replaced by the next task that takes the slot.
func (p *Pool) do(ctx context.Context, t *task, script []byte, host Host, g *gate, at *attempt) (outcome, error) {
	s, err := p.acquire(ctx)
	if err != nil {
		return outcome{}, err
	}
	defer p.release(s)
	if err := p.ensure(ctx, s); err != nil {
		if ctx.Err() == nil && !errors.Is(err, ErrPoolClosed) {
			err = fmt.Errorf("%w: %w", ErrWorkerFault, err)
		}
		return outcome{}, err
	}
	p.invocations.Add(1)
	s.tasks++
	out, err := s.w.run(ctx, t, script, host, g, at)
	if ctx.Err() != nil {
		// The caller gave up: whatever the worker reported (host calls
		// failing with the context's error, say) is moot.
		err = ctx.Err()
		p.cancelled.Add(1)
	}
	switch {
	case s.w.dead.Load():
		p.retire(s, err)
	case s.tasks >= p.opts.MaxTasksPerWorker:
		s.w.close()
		s.w = nil
	case err == nil:
		s.failures = 0
	}
	return out, err
}

// retire drops a dead worker from its slot, counting why it died; crashes
// (not limits) make the slot back off before the next start.
func (p *Pool) retire(s *slot, cause error) {
	w := s.w
	s.w = nil
	w.kill(nil)
	var le *LimitError
	switch {
	case errors.As(cause, &le), errors.Is(cause, context.Canceled), errors.Is(cause, context.DeadlineExceeded):
		p.killed.Add(1)
		p.log.Info("sandbox worker killed", "pid", w.pid, "reason", cause)
	default:
		p.crashed.Add(1)
		s.failures++
		s.notUntil = time.Now().Add(backoff(s.failures))
		p.log.Warn("sandbox worker crashed", "pid", w.pid, "err", cause)
	}
}

// workerEnviron is a worker's whole environment: the worker marker, its
// memory size and, for a root server, the user to switch to.
func (p *Pool) workerEnviron() []string {
	env := []string{workerEnv + "=1", workerMemEnv + "=" + strconv.FormatInt(p.opts.MaxMemoryBytes, 10)}
	if os.Geteuid() == 0 {
		env = append(env, workerUIDEnv+"="+strconv.Itoa(p.opts.WorkerUID), workerGIDEnv+"="+strconv.Itoa(p.opts.WorkerGID))
	}
	return env
}

// backoff is the restart delay after n consecutive crashes.
func backoff(n int) time.Duration {
	d := 10 * time.Millisecond << min(n-1, 8)
	return min(d, 2*time.Second)
}

// ensure starts the slot's worker if it has none, after its backoff.
func (p *Pool) ensure(ctx context.Context, s *slot) error {
	if s.w != nil && !s.w.dead.Load() {
		return nil
	}
	if s.w != nil {
		p.retire(s, fmt.Errorf("%w: exited while idle%s", ErrWorkerCrashed, s.w.stderrDetail()))
	}
	if wait := time.Until(s.notUntil); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-p.closed:
			t.Stop()
			return ErrPoolClosed
		}
	}
	w, err := startWorker(ctx, p.opts.Executable, p.opts.Args, p.workerEnviron(), p.opts.StartTimeout)
	if err != nil {
		s.failures++
		s.notUntil = time.Now().Add(backoff(s.failures))
		return err
	}
	w.cancelGrace = p.opts.CancelGrace
	p.started.Add(1)
	if p.opts.onStart != nil {
		p.opts.onStart(w.pid)
	}
	s.w, s.tasks = w, 0
	return nil
}

func (p *Pool) acquire(ctx context.Context) (*slot, error) { return p.take(ctx, false) }

// take waits for an idle slot and takes the most recently released one,
// or (cold, for warm) one whose worker has not started if there is any.
func (p *Pool) take(ctx context.Context, cold bool) (*slot, error) {
	select {
	case <-p.closed:
		return nil, ErrPoolClosed
	default:
	}
	select {
	case <-p.tokens:
		return p.pop(cold), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.closed:
		return nil, ErrPoolClosed
	}
}

// pop removes a slot from idle; the caller holds one of tokens, so there
// is one.
func (p *Pool) pop(cold bool) *slot {
	p.idleMu.Lock()
	defer p.idleMu.Unlock()
	i := len(p.idle) - 1
	if cold {
		for j, s := range p.idle {
			if s.w == nil {
				i = j
				break
			}
		}
	}
	s := p.idle[i]
	p.idle = append(p.idle[:i], p.idle[i+1:]...)
	return s
}

// push returns s to idle, on top, and its token.
func (p *Pool) push(s *slot) {
	p.idleMu.Lock()
	p.idle = append(p.idle, s)
	p.idleMu.Unlock()
	p.tokens <- struct{}{}
}

func (p *Pool) release(s *slot) {
	select {
	case <-p.closed:
		if s.w != nil {
			s.w.close()
			s.w = nil
		}
	default:
	}
	p.push(s)
}

// Stats reports counters since the pool started.
func (p *Pool) Stats() PoolStats {
	return PoolStats{
		Started: p.started.Load(), Invocations: p.invocations.Load(),
		Killed: p.killed.Load(), Crashed: p.crashed.Load(),
		Retried: p.retried.Load(), Cancelled: p.cancelled.Load(),
	}
}

// Close stops the idle workers; busy ones stop when their invocation ends.
func (p *Pool) Close() error {
	p.once.Do(func() {
		close(p.closed)
		for {
			select {
			case <-p.tokens:
				s := p.pop(false)
				if s.w != nil {
					s.w.close()
					s.w = nil
				}
				defer p.push(s)
			default:
				return
			}
		}
	})
	return nil
}
