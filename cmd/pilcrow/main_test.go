package main

import (
	"os"
	"testing"

	"github.com/pilcrow-cms/pilcrow/sandbox/sandboxtest"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

// `plugin validate|run|pack` start sandbox workers by re-executing this
// binary: the test binary must become a worker when started as one.
func TestMain(m *testing.M) {
	// A cluster test's node (cluster_test.go): this binary as `pilcrow`.
	if os.Getenv(envNode) == "1" {
		main()
	}
	sandboxtest.Main(m, storagetest.Stop)
}
