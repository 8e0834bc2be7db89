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

	clock    cpuClock
	start    time.Time
	startCPU time.Duration
	base     heapStats
	peak     atomic.Int64

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
	g.base = heapSample()
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
	g.timer.Stop()
	g.mu.Unlock()
	end := heapSample()
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

var heapMetrics = [...]string{"/memory/classes/heap/objects:bytes", "/gc/heap/allocs:bytes", "/gc/cycles/total:gc-cycles", "/gc/heap/live:bytes"}

// heapStats is one reading of the Go heap: the bytes in heap objects (live
// plus not yet swept), the cumulative bytes allocated, the number of
// completed garbage collections and the bytes the last one found live.
type heapStats struct{ objects, allocs, cycles, live uint64 }

func heapSample() heapStats {
	var s [len(heapMetrics)]metrics.Sample
	for i, name := range heapMetrics {
		s[i].Name = name
	}
	metrics.Read(s[:])
	return heapStats{s[0].Value.Uint64(), s[1].Value.Uint64(), s[2].Value.Uint64(), s[3].Value.Uint64()}
}
