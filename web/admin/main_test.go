// The browser tests (package admin_test) drive the admin UI of a real site
// in a real Chromium.
package admin_test

import (
	"testing"

	"github.com/pilcrow-cms/pilcrow/sandbox/sandboxtest"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

// Plugins run in sandbox worker processes started from this test binary;
// the shared browser closes after the last test.
func TestMain(m *testing.M) { sandboxtest.Main(m, closeBrowser, storagetest.Stop) }
