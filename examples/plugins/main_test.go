// Package examples tests the example plugins under examples/plugins: each is
// built with the authoring toolchain and run through the real sandbox, the
// way `pilcrow plugin run` and the server run them.
package examples

import (
	"testing"

	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/sandbox/sandboxtest"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

// The pool re-executes this test binary as its sandbox worker.
func TestMain(m *testing.M) { sandboxtest.Main(m, storagetest.Stop) }

// testPool is the worker pool every test of the binary shares.
func testPool(t testing.TB) *sandbox.Pool { return sandboxtest.Pool(t) }
