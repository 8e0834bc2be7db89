// The browser tests (package admin_test) drive the admin UI of a real site
// in a real Chromium.
package admin_test

import (
	"os"
	"testing"

	"github.com/pilcrow-cms/pilcrow/sandbox"
)

func TestMain(m *testing.M) {
	// Plugins run in sandbox worker processes started from this test binary.
	sandbox.MaybeRunWorker()
	os.Exit(m.Run())
}
