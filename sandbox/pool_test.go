package sandbox

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestInspect(t *testing.T) {
	t.Parallel()
	p := testPool(t)
	ex, err := p.Inspect(context.Background(), pluginScript(`"content:beforeSave": async () => 1, "cron": function () {}, "notAFunction": 5`, `"hello": () => 1`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ex.Hooks, []string{"content:beforeSave", "cron"}) || !slices.Equal(ex.Routes, []string{"hello"}) {
		t.Fatalf("exports = %+v", ex)
	}
	tests := []struct {
		name   string
		script string
		check  func(*testing.T, error)
	}{
		{"syntax error", `var = 1`, wantScriptError("SyntaxError", "")},
		{"not a plugin", `var x = 1`, wantIs(ErrBadScript)},
		{"top-level throw", `throw new Error("boom")`, wantScriptError("Error", "boom")},
		{"top-level loop", `for(;;){}`, wantLimit(LimitCPU)},
		{"top-level getter loop", `var __pilcrow = {get default(){ for(;;){} }}`, wantLimit(LimitCPU)},
		{"exports proxy loop", `var __pilcrow = {default: {hooks: new Proxy({}, {ownKeys(){ for(;;){} }})}}`, wantLimit(LimitCPU)},
		// Parsing this source recurses once per bracket in Go: it must cost
		// a worker, never the server.
		{"parser bomb source", strings.Repeat("[", 1e6), wantLimit(LimitCPU, LimitStack, LimitMemory)},
		{"parser bomb parens", strings.Repeat("(", 1e6), wantLimit(LimitCPU, LimitStack, LimitMemory)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := p.Inspect(context.Background(), []byte(tc.script))
			tc.check(t, err)
		})
	}
	if _, err := p.Inspect(context.Background(), nil); !errors.Is(err, ErrInvalidInvocation) {
		t.Fatalf("empty script: %v", err)
	}
	t.Cleanup(func() { assertClean(t, p) })
}

// TestFailuresStayInTheirWorker runs attacks on one worker while clean
// invocations keep succeeding on the other.
func TestFailuresStayInTheirWorker(t *testing.T) {
	t.Parallel()
	p, err := NewPool(context.Background(), PoolOptions{Logger: quietLog, Size: 2, Executable: os.Args[0]})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, body := range []string{`"x".repeat(2**40)`, `for(;;){}`, `/(a+)+\1b/.test("a".repeat(40))`} {
			_, err := p.Invoke(context.Background(), hookInvocation(body), nil)
			if !errors.Is(err, ErrLimitExceeded) {
				t.Errorf("%s: %v", body, err)
			}
		}
	}()
	for i := 0; i < 30; i++ {
		assertClean(t, p)
	}
	wg.Wait()
	assertClean(t, p)
}

func TestPoolClose(t *testing.T) {
	t.Parallel()
	p, err := NewPool(context.Background(), PoolOptions{Logger: quietLog, Size: 1, Executable: os.Args[0]})
	if err != nil {
		t.Fatal(err)
	}
	assertClean(t, p)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Invoke(context.Background(), hookInvocation(`return 1`), nil); !errors.Is(err, ErrPoolClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestWorkerStartFailureBacksOff(t *testing.T) {
	t.Parallel()
	p, err := NewPool(context.Background(), PoolOptions{Logger: quietLog, Size: 1, Executable: "/nonexistent/pilcrow"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i := 0; i < 2; i++ {
		if _, err := p.Invoke(context.Background(), hookInvocation(`return 1`), nil); err == nil || !strings.Contains(err.Error(), "/nonexistent/pilcrow") {
			t.Fatalf("err = %v, want the start failure", err)
		}
	}
	if d := backoff(3); d != 40e6 {
		t.Fatalf("backoff(3) = %v", d)
	}
	if d := backoff(100); d != 2e9 {
		t.Fatalf("backoff(100) = %v", d)
	}
}

func TestCrashReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		stderr string
		want   string
	}{
		{"fatal error: runtime: out of memory\n\ngoroutine 1", "limit exceeded: memory (64 MiB)"},
		{"runtime: goroutine stack exceeds 268435456-byte limit\nfatal error: stack overflow", "limit exceeded: stack (256 MiB Go stack)"},
		{"panic: boom\n\ngoroutine 1 [running]:", "sandbox: worker crashed: panic: boom"},
		{"", "sandbox: worker crashed: exited"},
	}
	for _, tc := range tests {
		if got := crashReason(tc.stderr, nil, 64<<20).Error(); !strings.HasPrefix(got, tc.want) {
			t.Errorf("crashReason(%q) = %q, want prefix %q", tc.stderr, got, tc.want)
		}
	}
}

func TestWorkersAreRecycled(t *testing.T) {
	t.Parallel()
	p, err := NewPool(context.Background(), PoolOptions{Logger: quietLog, Size: 1, Executable: os.Args[0], MaxTasksPerWorker: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for range 7 {
		assertClean(t, p)
	}
	if st := p.Stats(); st.Started != 3 || st.Crashed != 0 || st.Killed != 0 {
		t.Fatalf("stats = %+v, want 3 workers for 7 tasks at 3 per worker", st)
	}
}

// TestPoolReusesTheWarmestWorker: the pool starts every worker, and one
// invocation at a time runs on the worker that ran last (the others stay
// idle); two at once take two workers.
func TestPoolReusesTheWarmestWorker(t *testing.T) {
	t.Parallel()
	started := make(chan int, 8)
	p, err := NewPool(context.Background(), PoolOptions{Logger: quietLog, Size: 3, Executable: os.Args[0],
		onStart: func(pid int) { started <- pid }})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for range 3 {
		<-started // warm starts all three
	}
	for len(p.tokens) < 3 {
		time.Sleep(time.Millisecond) // and gives back the last one it started
	}
	for range 6 {
		assertClean(t, p)
	}
	tasks := func() []int {
		p.idleMu.Lock()
		defer p.idleMu.Unlock()
		var out []int
		for _, s := range p.idle {
			if s.w == nil {
				t.Fatal("a worker was not started")
			}
			out = append(out, s.tasks)
		}
		slices.Sort(out)
		return out
	}
	if got := tasks(); !slices.Equal(got, []int{0, 0, 6}) {
		t.Fatalf("tasks per worker = %v, want every sequential task on one worker", got)
	}
	a, err := p.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if a == b || a.tasks != 6 || b.tasks != 0 {
		t.Fatalf("acquired %p (%d tasks) and %p: want the warmest first, then another", a, a.tasks, b)
	}
	p.release(b)
	p.release(a)
	if st := p.Stats(); st.Started != 3 {
		t.Fatalf("stats = %+v, want 3 workers started", st)
	}
}
