package web_test

import (
	"testing"

	"github.com/pilcrow-cms/pilcrow/sandbox/sandboxtest"
)

// Test sites run plugins in sandbox worker processes started from this test
// binary (os.Executable), so it must become a worker when asked.
func TestMain(m *testing.M) { sandboxtest.Main(m) }
