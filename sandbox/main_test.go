package sandbox

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	// The test binary is also the worker executable of the pools below.
	MaybeRunWorker()
	// Misbehaving workers for the protocol tests.
	if len(os.Args) >= 2 && os.Args[1] == evilWorkerArg {
		runEvilWorker()
	}
	if len(os.Args) >= 3 && os.Args[1] == badWorkerArg {
		runBadWorker(os.Args[2])
	}
	if len(os.Args) == 2 && os.Args[1] == echoWorkerArg {
		runEchoWorker()
	}
	if len(os.Args) == 3 && os.Args[1] == probeWorkerArg {
		runProbeWorker(os.Args[2])
	}
	os.Exit(m.Run())
}

// quietLog keeps expected worker kills out of the test output.
var quietLog = slog.New(slog.DiscardHandler)

var (
	sharedPoolOnce sync.Once
	sharedPool     *Pool
)

// testPool is one 2-worker pool shared by the tests, so hostile plugins
// run next to clean ones and every test proves the pool recovered.
func testPool(t testing.TB) *Pool {
	t.Helper()
	sharedPoolOnce.Do(func() {
		p, err := NewPool(context.Background(), PoolOptions{Logger: quietLog, Size: 2, Executable: os.Args[0]})
		if err != nil {
			t.Fatal(err)
		}
		sharedPool = p
	})
	return sharedPool
}

// pluginScript wraps hook and route definitions (JS object bodies) the way
// esbuild's IIFE output defines globalThis.__pilcrow.
func pluginScript(hooks, routes string) []byte {
	return []byte(`"use strict";
var __pilcrow = (() => {
	const plugin = {hooks: {` + hooks + `}, routes: {` + routes + `}};
	return {default: plugin};
})();
`)
}

// slow scales the CPU limits of tests: the race detector makes goja about
// ten times slower.
var slow = map[bool]time.Duration{false: 1, true: 10}[raceBuild]

// testCPU is the CPU limit of test invocations (DefaultLimits.CPU, scaled).
var testCPU = DefaultLimits.CPU * slow

// hookInvocation is an invocation of hook "h" whose body is the JS function
// body given (async, parameters event and ctx).
func hookInvocation(body string) *Invocation {
	return &Invocation{
		PluginID: "test-plugin", Version: "1.0.0",
		Script: pluginScript(`"h": async (event, ctx) => {`+body+`}`, ""),
		Kind:   KindHook, Name: "h", Event: []byte(`{"data":{"title":"Hello"}}`),
		Limits: Limits{CPU: testCPU},
	}
}
