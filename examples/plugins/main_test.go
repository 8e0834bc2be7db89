// Package examples tests the example plugins under examples/plugins: each is
// built with the authoring toolchain and run through the real sandbox, the
// way `pilcrow plugin run` and the server run them.
package examples

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/pilcrow-cms/pilcrow/sandbox"
)

func TestMain(m *testing.M) {
	// The pool below re-executes this test binary as its sandbox worker.
	sandbox.MaybeRunWorker()
	os.Exit(m.Run())
}

var (
	poolOnce sync.Once
	pool     *sandbox.Pool
	poolErr  error
)

// testPool is one small worker pool shared by every test in the package.
func testPool(t testing.TB) *sandbox.Pool {
	t.Helper()
	poolOnce.Do(func() {
		pool, poolErr = sandbox.NewPool(context.Background(), sandbox.PoolOptions{Size: 2, Executable: os.Args[0]})
	})
	if poolErr != nil {
		t.Fatalf("sandbox pool: %v", poolErr)
	}
	return pool
}
