package sandbox

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/dop251/goja"
)

// TestWatchdogStopsWhenIdle: the watchdog's ticker runs while invocations
// do and stops once none has run for a tick, so an idle worker (or server
// running in-process invocations) has no timer waking it.
func TestWatchdogStopsWhenIdle(t *testing.T) {
	inv := hookInvocation(`return 1`)
	if _, err := RunInProcess(context.Background(), inv, newMemHost()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		watchdog.mu.Lock()
		running, guards := watchdog.running, len(watchdog.guards)
		watchdog.mu.Unlock()
		if guards == 0 && !running {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("watchdog still running with %d guards long after the last invocation ended", guards)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestOverrunCountsTheThreadsCPU: once a limit interrupted the runtime, the
// worker gives up on it (overrun) only after the isolate's thread burned
// overrunGrace of CPU without stopping — a thread that waits for a core on
// a loaded machine has ignored nothing yet — or after overrunWall if it
// never runs. The overrun reports the thread's CPU for the worker's last
// frame.
func TestOverrunCountsTheThreadsCPU(t *testing.T) {
	for _, tc := range []struct {
		name string
		// work runs on the guarded thread after the trip until done closes.
		work    func(done <-chan struct{})
		after   time.Duration // overrun may not come sooner
		wantCPU time.Duration
	}{
		{"thread waits", func(done <-chan struct{}) { <-done }, 5 * overrunGrace, 0},
		{"thread burns CPU", func(done <-chan struct{}) {
			for {
				select {
				case <-done:
					return
				default:
				}
			}
		}, 0, overrunGrace},
	} {
		t.Run(tc.name, func(t *testing.T) {
			type report struct {
				le  *LimitError
				cpu time.Duration
				at  time.Time
			}
			overran := make(chan report, 1)
			done := make(chan struct{})
			defer close(done)
			start := time.Now()
			go func() {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				g := startGuard(goja.New(), Limits{CPU: time.Hour, Wall: time.Hour, MemoryBytes: 1 << 40}, func(le *LimitError, cpu time.Duration) {
					select {
					case overran <- report{le, cpu, time.Now()}:
					default:
					}
				}, nil)
				defer g.stop()
				g.trip(cpuLimit(time.Second))
				tc.work(done)
			}()
			select {
			case r := <-overran:
				if r.le.Limit != LimitCPU {
					t.Errorf("overrun with %v, want the limit that tripped", r.le)
				}
				if waited := r.at.Sub(start); waited < tc.after {
					t.Errorf("overrun after %v: a thread that has not run since the interrupt must be given longer", waited)
				}
				if r.cpu < tc.wantCPU {
					t.Errorf("overrun reports %v of the thread's CPU, want at least %v", r.cpu, tc.wantCPU)
				}
			case <-time.After(time.Minute):
				t.Fatal("no overrun: a runtime that ignores its interrupt must end the worker")
			}
		})
	}
}
