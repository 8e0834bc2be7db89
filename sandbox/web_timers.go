package sandbox

import (
	"container/heap"
	"errors"
	"math"
	"time"

	"github.com/dop251/goja"
)

// Timers (setTimeout, setInterval and their clear functions) and
// queueMicrotask.
//
// Timers belong to one invocation and never outlive it. They fire, in
// order of due time then of creation, only while the invocation waits for
// the promise its hook or route returned: the event loop (runner.await)
// runs the next due timer, or waits for the next host answer until the
// next timer is due. Once that promise settles the invocation ends and the
// timers still pending are dropped, never run — like a Worker whose
// response was sent. A timer due after the invocation's wall limit cannot
// fire: if nothing else is pending, the invocation fails with the wall limit
// at once instead of waiting for it.

// maxTimers caps the timers pending at once in one invocation (a setTimeout
// bomb throws instead of filling the memory limit).
const maxTimers = 10_000

// minTimerDelay is the shortest delay, as in Node: a zero-delay interval
// cannot starve host answers.
const minTimerDelay = time.Millisecond

type timer struct {
	id       int64
	due      time.Time
	delay    time.Duration
	seq      uint64
	fn       goja.Callable
	args     []goja.Value
	goFn     func() // host timers (AbortSignal.timeout)
	interval bool
	index    int
}

// timerHeap orders timers by due time, then by creation.
type timerHeap []*timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*timer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.index = -1
	return t
}

// timers is the invocation's pending timers.
type timers struct {
	heap   timerHeap
	byID   map[int64]*timer
	nextID int64
	seq    uint64
}

// addTimer schedules t; the caller set delay, and fn or goFn.
func (r *runner) addTimer(t *timer) int64 {
	ts := &r.timers
	if ts.heap.Len() >= maxTimers {
		panic(r.newNamedError("RangeError", "too many timers pending (at most 10000 per invocation)"))
	}
	if ts.byID == nil {
		ts.byID = map[int64]*timer{}
	}
	ts.nextID++
	ts.seq++
	t.id, t.seq = ts.nextID, ts.seq
	t.delay = max(t.delay, minTimerDelay)
	t.due = time.Now().Add(t.delay)
	ts.byID[t.id] = t
	heap.Push(&ts.heap, t)
	return t.id
}

func (r *runner) timerFunc(name string, interval bool) goja.Value {
	return r.function(name, 1, func(call goja.FunctionCall) goja.Value {
		fn, ok := goja.AssertFunction(argument(call.Arguments, 0))
		if !ok {
			panic(r.rt.NewTypeError("%s: the callback must be a function (code in strings is not run)", name))
		}
		delay := argument(call.Arguments, 1).ToFloat()
		if math.IsNaN(delay) || delay < 0 || delay > math.MaxInt32 {
			delay = 0 // as in browsers and Node
		}
		var args []goja.Value
		if len(call.Arguments) > 2 {
			args = append(args, call.Arguments[2:]...)
		}
		id := r.addTimer(&timer{fn: fn, args: args, delay: time.Duration(delay * float64(time.Millisecond)), interval: interval})
		return r.rt.ToValue(id)
	})
}

func (r *runner) clearTimerFunc(name string) goja.Value {
	return r.function(name, 1, func(call goja.FunctionCall) goja.Value {
		id := argument(call.Arguments, 0).ToInteger()
		if t, ok := r.timers.byID[id]; ok {
			delete(r.timers.byID, id)
			if t.index >= 0 {
				heap.Remove(&r.timers.heap, t.index)
			}
		}
		return goja.Undefined()
	})
}

// nextTimer is the earliest pending timer, or nil.
func (r *runner) nextTimer() *timer {
	if r.timers.heap.Len() == 0 {
		return nil
	}
	return r.timers.heap[0]
}

// fireTimer runs the earliest timer, which is due. An exception its
// callback throws fails the invocation, as an uncaught one would in Node:
// nothing else would ever see it.
func (r *runner) fireTimer() error {
	t := heap.Pop(&r.timers.heap).(*timer)
	if t.interval {
		t.due = t.due.Add(t.delay)
		if now := time.Now(); t.due.Before(now) {
			t.due = now
		}
		r.timers.seq++
		t.seq = r.timers.seq
		heap.Push(&r.timers.heap, t)
	} else {
		delete(r.timers.byID, t.id)
	}
	if t.goFn != nil {
		return r.callGo(func() error { t.goFn(); return nil })
	}
	if _, err := t.fn(goja.Undefined(), t.args...); err != nil {
		return r.classify(err)
	}
	return nil
}

// errNothingPending: the event loop has nothing that could settle a promise.
var errNothingPending = errors.New("nothing pending")

// turn runs one turn of the event loop: the next due timer, or else one
// host answer, waiting for it at most until the next timer is due.
func (r *runner) turn() error {
	t := r.nextTimer()
	if t != nil && !time.Now().Before(t.due) {
		return r.fireTimer()
	}
	if len(r.pending) == 0 {
		if t == nil {
			return errNothingPending
		}
		if t.due.After(r.guard.start.Add(r.limits.Wall)) {
			// Only this timer could settle anything, and it would fire
			// after the wall limit.
			le := wallLimit(r.limits.Wall)
			r.guard.trip(le)
			return le
		}
	}
	var until time.Time
	if t != nil {
		until = t.due
	}
	err := r.nextAnswer(until)
	if errors.Is(err, errRecvTimeout) {
		return nil // the timer is due now; the next turn runs it
	}
	return err
}

func (r *runner) queueMicrotaskFunc() goja.Value {
	return r.function("queueMicrotask", 1, func(call goja.FunctionCall) goja.Value {
		fn := argument(call.Arguments, 0)
		if _, ok := goja.AssertFunction(fn); !ok {
			panic(r.rt.NewTypeError("queueMicrotask: the callback must be a function"))
		}
		cb, _ := goja.AssertFunction(fn)
		// An exception in a microtask reaches nobody: it fails the
		// invocation (like one in a timer) rather than vanish.
		task := r.rt.ToValue(func(goja.FunctionCall) goja.Value {
			if _, err := cb(goja.Undefined()); err != nil && r.uncaught == nil {
				r.uncaught = r.classify(err)
			}
			return goja.Undefined()
		})
		p, resolve, _ := r.rt.NewPromise()
		_ = resolve(goja.Undefined())
		pv := r.rt.ToValue(p).(*goja.Object)
		then, ok := goja.AssertFunction(pv.Get("then"))
		if !ok {
			panic(r.rt.NewTypeError("queueMicrotask: Promise.prototype.then was replaced"))
		}
		if _, err := then(pv, task); err != nil {
			panic(err)
		}
		return goja.Undefined()
	})
}
