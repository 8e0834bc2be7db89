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

// overrunGrace is how long a worker waits after interrupting the runtime
// before concluding that a builtin ignores the interrupt and exiting itself.
const overrunGrace = 50 * time.Millisecond

// guard is the in-isolate watchdog of one invocation: it interrupts the
// runtime when CPU time, wall time or heap growth passes its limit, and calls
// overrun (the worker exits) if the runtime keeps running regardless.
//
// It runs on a self-rearming timer rather than its own goroutine, so an
// invocation shorter than one tick (most of them) costs no extra wake-up.
type guard struct {
	rt      *goja.Runtime
	limits  Limits
	overrun func(*LimitError)
	wake    func()

	clock     cpuClock
	start     time.Time
	startCPU  time.Duration
	baseHeap  uint64
	baseAlloc uint64
	peak      atomic.Int64

	hit     atomic.Pointer[LimitError]
	tripped chan struct{}
	once    sync.Once

	mu        sync.Mutex // guards timer, stopped, trippedAt
	timer     *time.Timer
	stopped   bool
	trippedAt time.Time
}

// startGuard must run on the isolate's goroutine, locked to its OS thread:
// the CPU limit is that thread's CPU time.
func startGuard(rt *goja.Runtime, l Limits, overrun func(*LimitError), wake func()) *guard {
	clock := threadCPUClock()
	g := &guard{
		rt: rt, limits: l, overrun: overrun, wake: wake,
		clock: clock, start: time.Now(), startCPU: clock.read(),
		tripped: make(chan struct{}),
	}
	g.baseHeap, g.baseAlloc = heapSample()
	g.mu.Lock()
	g.timer = time.AfterFunc(guardTick, g.check)
	g.mu.Unlock()
	return g
}

// check runs on the timer's goroutine every guardTick.
func (g *guard) check() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return
	}
	if hit := g.hit.Load(); hit != nil {
		if g.trippedAt.IsZero() {
			g.trippedAt = time.Now()
		}
		if time.Since(g.trippedAt) > overrunGrace && g.overrun != nil {
			g.overrun(hit)
			return
		}
	} else if used := g.clock.read() - g.startCPU; used >= g.limits.CPU {
		g.trip(cpuLimit(g.limits.CPU))
	} else if time.Since(g.start) >= g.limits.Wall {
		g.trip(wallLimit(g.limits.Wall))
	} else if g.sampleHeap() > g.limits.MemoryBytes && g.liveGrowth() > g.limits.MemoryBytes {
		g.trip(memoryLimit(g.limits.MemoryBytes))
	}
	g.timer.Reset(guardTick)
}

// sampleHeap records and returns the heap growth since the start.
func (g *guard) sampleHeap() int64 {
	heap, _ := heapSample()
	grown := int64(heap) - int64(g.baseHeap)
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
	heap, _ := heapSample()
	return int64(heap) - int64(g.baseHeap)
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

// stop ends the watchdog and reports the usage of the invocation.
func (g *guard) stop() Usage {
	g.mu.Lock()
	g.stopped = true
	g.timer.Stop()
	g.mu.Unlock()
	g.sampleHeap()
	_, alloc := heapSample()
	return Usage{
		CPU:             g.clock.read() - g.startCPU,
		Wall:            time.Since(g.start),
		PeakMemoryBytes: max(g.peak.Load(), 0),
		AllocBytes:      int64(alloc - g.baseAlloc),
	}
}

var heapMetrics = []string{"/memory/classes/heap/objects:bytes", "/gc/heap/allocs:bytes"}

// heapSample returns the bytes in heap objects (live plus not yet swept) and
// the cumulative bytes allocated.
func heapSample() (objects, allocs uint64) {
	s := make([]metrics.Sample, 2)
	s[0].Name, s[1].Name = heapMetrics[0], heapMetrics[1]
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}
