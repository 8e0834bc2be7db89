package main

import (
	"os"
	"testing"

	"github.com/pilcrow-cms/pilcrow/sandbox"
)

func TestMain(m *testing.M) {
	// `plugin validate|run|pack` start sandbox workers by re-executing this
	// binary: the test binary must become a worker when started as one.
	sandbox.MaybeRunWorker()
	os.Exit(m.Run())
}
