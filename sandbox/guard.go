package sandbox

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
)

// guardTick is how often the watchdog samples CPU time, wall time and heap.
const guardTick = 2 * time.Millisecond

// overrunGrace is how much CPU the isolate's thread may burn after the
// runtime was interrupted before the worker concludes that a builtin
// ignores the interrupt and exits itself. It is CPU, not wall time: on a
// loaded machine an interrupted thread can wait longer than that for a
// core, and it has not ignored anything until it ran.
const overrunGrace = 50 * time.Millisecond

// overrunWall bounds the wait for an interrupted thread that does not run
// at all (starved, or blocked where wake cannot reach it).
const overrunWall = 10 * overrunGrace

// overrunFunc ends a worker whose runtime ignored the limit le; cpu is what
// the isolate's thread used, for the worker's last report.
type overrunFunc func(le *LimitError, cpu time.Duration)

// guard is the in-isolate watchdog of one invocation: it interrupts the
// runtime when CPU time, wall time or heap growth passes its limit, and calls
// overrun (the worker exits) if the runtime keeps running regardless.
//
// Every running guard is checked by one process-wide ticker (watchdog)
// rather than a timer of its own, so an invocation shorter than one tick
// (most of them) costs no wake-up and no timer.
type guard struct {
	rt      *goja.Runtime
	limits  Limits
	overrun overrunFunc
	wake    func()

	clock    cpuClock
	start    time.Time
	startCPU time.Duration
	base     heapStats
	peak     atomic.Int64

	end heapStats // the reading stop took

	hit     atomic.Pointer[LimitError]
	tripped chan struct{}
	once    sync.Once

	mu         sync.Mutex // guards stopped, trippedAt, trippedCPU (CPU used at the trip)
	stopped    bool
	trippedAt  time.Time
	trippedCPU time.Duration
}

// startGuard must run on the isolate's goroutine, locked to its OS thread:
// the CPU limit is that thread's CPU time.
func startGuard(rt *goja.Runtime, l Limits, overrun overrunFunc, wake func()) *guard {
	clock := threadCPUClock()
	g := &guard{
		rt: rt, limits: l, overrun: overrun, wake: wake,
		clock: clock, start: time.Now(), startCPU: clock.read(),
		tripped: make(chan struct{}),
	}
	g.base = heapSample()
	watchdog.add(g)
	return g
}

// watchdog is the ticker that checks every running guard each guardTick.
// It keeps ticking while invocations arrive and stops after a tick with
// none running and none started since the last: a timer set per
// invocation (or re-armed when the first of a busy stream starts) is
// earlier than the timeout of the thread the Go runtime keeps blocked in
// its netpoller, which must then be woken to wait for it — an eventfd
// write and a context switch per invocation, measured at several
// microseconds of a trivial hook's round trip. A tick costs the same
// wake-up but comes at most 500 times a second, whatever the rate.
var watchdog = &watchdogTicker{guards: map[*guard]struct{}{}}

type watchdogTicker struct {
	mu      sync.Mutex
	guards  map[*guard]struct{}
	started bool // a guard was added since the last tick
	timer   *time.Timer
	running bool
	batch   []*guard
}

func (w *watchdogTicker) add(g *guard) {
	w.mu.Lock()
	w.guards[g] = struct{}{}
	w.started = true
	if !w.running {
		w.running = true
		if w.timer == nil {
			w.timer = time.AfterFunc(guardTick, w.tick)
		} else {
			w.timer.Reset(guardTick)
		}
	}
	w.mu.Unlock()
}

func (w *watchdogTicker) remove(g *guard) {
	w.mu.Lock()
	delete(w.guards, g)
	w.mu.Unlock()
}

// tick runs on the timer's goroutine. The timer is re-armed after the
// checks (one may collect garbage, or stop an invocation whose guard then
// leaves the set), so ticks never overlap and batch is this goroutine's.
func (w *watchdogTicker) tick() {
	w.mu.Lock()
	if len(w.guards) == 0 && !w.started {
		w.running = false
		w.mu.Unlock()
		return
	}
	w.started = false
	batch := w.batch[:0]
	for g := range w.guards {
		batch = append(batch, g)
	}
	w.mu.Unlock()
	for i, g := range batch {
		g.check()
		batch[i] = nil
	}
	w.mu.Lock()
	w.batch = batch
	w.timer.Reset(guardTick)
	w.mu.Unlock()
}

// check runs on the watchdog's goroutine every guardTick.
func (g *guard) check() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return
	}
	used := g.clock.read() - g.startCPU
	if hit := g.hit.Load(); hit != nil {
		if g.trippedAt.IsZero() {
			g.trippedAt, g.trippedCPU = time.Now(), used
		}
		if g.overrun != nil && (used-g.trippedCPU > overrunGrace || time.Since(g.trippedAt) > overrunWall) {
			g.overrun(hit, used)
			return
		}
	} else if used >= g.limits.CPU {
		g.trip(cpuLimit(g.limits.CPU))
	} else if time.Since(g.start) >= g.limits.Wall {
		g.trip(wallLimit(g.limits.Wall))
	} else if g.sampleHeap() > g.limits.MemoryBytes && g.liveGrowth() > g.limits.MemoryBytes {
		g.trip(memoryLimit(g.limits.MemoryBytes))
	}
}

// sampleHeap records and returns the heap growth since the start.
func (g *guard) sampleHeap() int64 {
	return g.recordPeak(heapSample())
}

func (g *guard) recordPeak(h heapStats) int64 {
	grown := int64(h.objects) - int64(g.base.objects)
	for {
		p := g.peak.Load()
		if grown <= p || g.peak.CompareAndSwap(p, grown) {
			return grown
		}
	}
}

// liveGrowth collects garbage and measures again: the sampled heap includes
// garbage not yet collected (workers collect lazily, GOGC=400), and a
// plugin that churns through short-lived strings must not be charged for
// them. Only runs once the sample is already over the limit.
func (g *guard) liveGrowth() int64 {
	runtime.GC()
	return int64(heapSample().objects) - int64(g.base.objects)
}

// overAtEnd is the memory check when the invocation ends, which catches an
// allocation made between two ticks (a typed array is allocated in
// microseconds) or held while the watchdog could not run. Growth over the
// limit counts if no garbage collection completed during the invocation —
// nothing then was collectable churn: a worker's GC is paced to run before
// its heap grows by the invocation's limit (see armMemory) — or if the last
// collection found it live, or it still is.
func (g *guard) overAtEnd(end heapStats) bool {
	limit := g.limits.MemoryBytes
	if int64(end.objects)-int64(g.base.objects) <= limit {
		return false
	}
	return end.cycles == g.base.cycles || int64(end.live)-int64(g.base.live) > limit || g.liveGrowth() > limit
}

// trip records the first limit hit and interrupts the runtime with it.
func (g *guard) trip(le *LimitError) {
	g.once.Do(func() {
		g.hit.Store(le)
		close(g.tripped)
		g.rt.Interrupt(le)
		if g.wake != nil {
			g.wake()
		}
	})
}

// stop ends the watchdog and reports the usage of the invocation. A final
// memory check may trip the memory limit (see overAtEnd): callers check hit.
func (g *guard) stop() Usage {
	g.mu.Lock()
	g.stopped = true
	g.mu.Unlock()
	watchdog.remove(g)
	end := heapSample()
	g.end = end
	g.recordPeak(end)
	if g.hit.Load() == nil && g.overAtEnd(end) {
		g.trip(memoryLimit(g.limits.MemoryBytes))
	}
	return Usage{
		CPU:             g.clock.read() - g.startCPU,
		Wall:            time.Since(g.start),
		PeakMemoryBytes: max(g.peak.Load(), 0),
		AllocBytes:      int64(end.allocs - g.base.allocs),
	}
}

var heapMetrics = [...]string{"/memory/classes/heap/objects:bytes", "/gc/heap/allocs:bytes", "/gc/cycles/total:gc-cycles", "/gc/heap/live:bytes",
	"/memory/classes/total:bytes", "/memory/classes/heap/released:bytes"}

// heapStats is one reading of the Go heap: the bytes in heap objects (live
// plus not yet swept), the cumulative bytes allocated, the number of
// completed garbage collections and the bytes the last one found live; and
// what the worker's memory arming needs (armMemory): the memory the Go
// runtime has mapped and how much of it it returned to the system. One
// read serves both: each metrics.Read aggregates the runtime's statistics
// anew, about a microsecond.
type heapStats struct{ objects, allocs, cycles, live, total, released uint64 }

func heapSample() heapStats {
	var s [len(heapMetrics)]metrics.Sample
	for i, name := range heapMetrics {
		s[i].Name = name
	}
	metrics.Read(s[:])
	return heapStats{s[0].Value.Uint64(), s[1].Value.Uint64(), s[2].Value.Uint64(), s[3].Value.Uint64(), s[4].Value.Uint64(), s[5].Value.Uint64()}
}
