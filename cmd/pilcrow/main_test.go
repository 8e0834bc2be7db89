package main

import (
	"testing"

	"github.com/pilcrow-cms/pilcrow/sandbox/sandboxtest"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

// `plugin validate|run|pack` start sandbox workers by re-executing this
// binary: the test binary must become a worker when started as one.
func TestMain(m *testing.M) { sandboxtest.Main(m, storagetest.Stop) }
