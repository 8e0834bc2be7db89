package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// killingHost kills the worker that asks for kv.get("start"), from
// outside (SIGKILL), a little after answering — while the hook runs.
type killingHost struct {
	*memHost
	mu    sync.Mutex
	pool  *Pool
	times int // how many workers to kill
}

func (h *killingHost) Call(ctx context.Context, pluginID, method string, args json.RawMessage) (json.RawMessage, error) {
	if method == "kv.get" && string(args) == `["start"]` {
		h.mu.Lock()
		if h.times > 0 {
			h.times--
			pid := workerPIDs(h.pool)
			go func() {
				time.Sleep(50 * time.Millisecond)
				for _, p := range pid {
					_ = syscall.Kill(p, syscall.SIGKILL)
				}
			}()
		}
		h.mu.Unlock()
	}
	return h.memHost.Call(ctx, pluginID, method, args)
}

// busyPIDs are the workers the pool started, read from outside.
var (
	pidsMu sync.Mutex
	pids   = map[*Pool][]int{}
)

func workerPIDs(p *Pool) []int {
	pidsMu.Lock()
	defer pidsMu.Unlock()
	return pids[p]
}

// spinHook awaits a read (the kill comes then) and computes for a while.
func spinHook() *Invocation {
	inv := hookInvocation(`const v = await ctx.kv.get("start"); const t = Date.now(); while (Date.now() - t < 600) {} return "done"`)
	inv.Limits.CPU, inv.Limits.Wall = 5*time.Second*slow, 20*time.Second*slow
	return inv
}

func faultPool(t *testing.T, tune ...func(*PoolOptions)) *Pool {
	t.Helper()
	var p *Pool
	ready := make(chan struct{})
	opts := PoolOptions{Logger: quietLog, Size: 1, Executable: os.Args[0], onStart: func(pid int) {
		<-ready // p is assigned
		pidsMu.Lock()
		pids[p] = append(pids[p], pid)
		pidsMu.Unlock()
	}}
	for _, f := range tune {
		f(&opts)
	}
	p, err := NewPool(context.Background(), opts)
	close(ready)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestWorkerKilledFromOutsideIsRetried: a worker SIGKILLed mid-invocation
// is a fault of the sandbox, not a plugin verdict: the invocation runs
// again on a fresh worker and succeeds.
func TestWorkerKilledFromOutsideIsRetried(t *testing.T) {
	t.Parallel()
	p := faultPool(t)
	host := &killingHost{memHost: newMemHost(), pool: p, times: 1}
	res, err := p.Invoke(context.Background(), spinHook(), host)
	if err != nil {
		t.Fatalf("the retry did not succeed: %v", err)
	}
	if string(res.Value) != `"done"` {
		t.Fatalf("value %s", res.Value)
	}
	if st := p.Stats(); st.Started != 2 || st.Crashed != 1 || st.Retried != 1 || st.Killed != 0 {
		t.Fatalf("stats %+v: want one crash, one retry on a second worker", st)
	}
}

// TestWorkerFaultTwice: when the fresh worker fails too, the invocation
// fails with ErrWorkerFault, which is not a plugin verdict.
func TestWorkerFaultTwice(t *testing.T) {
	t.Parallel()
	p := faultPool(t)
	host := &killingHost{memHost: newMemHost(), pool: p, times: 2}
	_, err := p.Invoke(context.Background(), spinHook(), host)
	if !errors.Is(err, ErrWorkerFault) || !errors.Is(err, ErrWorkerCrashed) {
		t.Fatalf("err = %v, want ErrWorkerFault", err)
	}
	var le *LimitError
	var se *ScriptError
	if errors.As(err, &le) || errors.As(err, &se) {
		t.Fatalf("err = %v: a worker fault must not look like a limit or a script error", err)
	}
	if st := p.Stats(); st.Crashed != 2 || st.Retried != 1 {
		t.Fatalf("stats %+v: want two crashes, one retry", st)
	}
	assertClean(t, p)
}

// TestNoRetryAfterSideEffects: an invocation whose worker died after it
// asked for a write is not run again (it would write twice).
func TestNoRetryAfterSideEffects(t *testing.T) {
	t.Parallel()
	p := faultPool(t)
	host := &killingHost{memHost: newMemHost(), pool: p, times: 1}
	inv := spinHook()
	inv.Script = pluginScript(`"h": async (event, ctx) => { await ctx.kv.set("wrote", 1); await ctx.kv.get("start"); const t = Date.now(); while (Date.now() - t < 600) {} return "done" }`, "")
	_, err := p.Invoke(context.Background(), inv, host)
	if !errors.Is(err, ErrWorkerFault) {
		t.Fatalf("err = %v, want ErrWorkerFault", err)
	}
	if st := p.Stats(); st.Retried != 0 || st.Crashed != 1 {
		t.Fatalf("stats %+v: want no retry", st)
	}
}

// TestCancelledCallerKeepsWorker: callers that give up mid-invocation (a
// client that disconnects) cost no worker process: the worker interrupts
// the isolate and serves the next invocation.
func TestCancelledCallerKeepsWorker(t *testing.T) {
	t.Parallel()
	// The grace is generous: what is tested is that a cooperative worker
	// comes back, not how fast it does on a loaded machine.
	p := faultPool(t, func(o *PoolOptions) { o.CancelGrace = 10 * time.Second * slow })
	assertClean(t, p)
	before := p.Stats()
	bodies := []string{
		`for (;;) {}`,                   // computing
		`await new Promise(() => {}); `, // (unsettled: fails at once, no cancel needed)
		`await ctx.kv.get("block")`,     // waiting for the host
		`let s = 0; for (let i = 0; i < 100; i++) { s += (await ctx.kv.get("k")) || 1 } for (;;) {}`,
	}
	const rounds = 3
	for range rounds {
		for _, body := range bodies {
			host := newMemHost()
			if body == `await ctx.kv.get("block")` {
				host.block = true
			}
			inv := hookInvocation(body)
			inv.Limits.CPU, inv.Limits.Wall = 10*time.Second*slow, 20*time.Second*slow
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			_, err := p.Invoke(ctx, inv, host)
			cancel()
			if err == nil {
				t.Fatalf("%s: succeeded", body)
			}
			assertClean(t, p)
		}
	}
	after := p.Stats()
	if after.Started != before.Started || after.Killed != before.Killed || after.Crashed != before.Crashed {
		t.Fatalf("stats before %+v, after %+v: a cancelled caller cost a worker", before, after)
	}
	if after.Cancelled != before.Cancelled+3*rounds {
		t.Fatalf("stats %+v: cancellations not counted", after)
	}
}

// TestCancelledBuiltinIsKilled: a builtin that ignores the interrupt still
// ends when its caller gives up, by killing the worker.
func TestCancelledBuiltinIsKilled(t *testing.T) {
	t.Parallel()
	p := faultPool(t)
	assertClean(t, p) // the worker is up: the deadline below is the invocation's
	inv := hookInvocation(`return /(a+)+\1b/.test("a".repeat(40))`)
	inv.Limits.CPU, inv.Limits.Wall = 30*time.Second, 60*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Invoke(ctx, inv, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v to give up", d)
	}
	if st := p.Stats(); st.Killed != 1 || st.Crashed != 0 || st.Started != 1 {
		t.Fatalf("stats %+v: want the worker killed", st)
	}
	assertClean(t, p)
}

// TestReadOnlyMethods: only calls that change nothing let an invocation
// run again after a worker fault.
func TestReadOnlyMethods(t *testing.T) {
	t.Parallel()
	for method, want := range map[string]bool{
		"kv.get": true, "kv.list": true, "kv.set": false, "kv.delete": false,
		"storage.posts.get": true, "storage.posts.query": true, "storage.posts.count": true,
		"storage.posts.put": false, "storage.posts.delete": false,
		"storage.posts.exists": true, "storage.posts.getMany": true, "storage.posts.putMany": false, "storage.posts.deleteMany": false,
		"cron.list": true, "cron.schedule": false, "cron.cancel": false,
		"content.get": true, "content.list": true, "content.create": false, "content.update": false, "content.delete": false,
		"media.get": true, "media.upload": false, "users.list": true,
		"http.fetch": false, "email.send": false, "log.info": false, "admin.shutdown": false, "kv": false,
	} {
		if got := readOnlyMethod(method); got != want {
			t.Errorf("readOnlyMethod(%q) = %v, want %v", method, got, want)
		}
	}
}
