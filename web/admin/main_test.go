// Package admin_test drives the admin UI (served by package web at /admin)
// in a real Chromium. The templates and static files in this folder are
// embedded by package web; this package holds only the browser tests.
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
