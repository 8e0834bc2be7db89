package web_test

import (
	"os"
	"testing"

	"github.com/pilcrow-cms/pilcrow/sandbox"
)

func TestMain(m *testing.M) {
	// Test sites run plugins in sandbox worker processes started from this
	// test binary (os.Executable), so it must become a worker when asked.
	sandbox.MaybeRunWorker()
	os.Exit(m.Run())
}
