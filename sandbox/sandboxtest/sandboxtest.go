// Package sandboxtest is the test-binary side of the sandbox: every test
// binary that runs plugins, directly or through a site, re-executes itself as
// its sandbox worker, so its TestMain must let it become one. One helper for
// that, and one shared worker pool, instead of a copy in every package.
package sandboxtest

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/pilcrow-cms/pilcrow/sandbox"
)

// Main is a whole TestMain: started as a sandbox worker, the binary serves
// as one and exits; otherwise it runs the tests, then after (closing shared
// resources such as a browser), and exits with the tests' code.
func Main(m *testing.M, after ...func()) {
	sandbox.MaybeRunWorker()
	code := m.Run()
	for _, f := range after {
		f()
	}
	os.Exit(code)
}

var (
	poolOnce sync.Once
	pool     *sandbox.Pool
	poolErr  error
)

// Pool is one 2-worker pool shared by every test of the binary: starting
// workers is most of the cost of a small plugin test, and sharing the pool
// also proves each test leaves it usable. The binary must use Main.
func Pool(t testing.TB) *sandbox.Pool {
	t.Helper()
	poolOnce.Do(func() {
		pool, poolErr = sandbox.NewPool(context.Background(), sandbox.PoolOptions{Size: 2, Executable: os.Args[0]})
	})
	if poolErr != nil {
		t.Fatalf("sandbox pool: %v", poolErr)
	}
	return pool
}
