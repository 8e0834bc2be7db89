package site

import (
	"os"
	"testing"

	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

// Sites run plugins in sandbox workers re-executed from this binary, and a
// PostgreSQL run's server stops with it.
func TestMain(m *testing.M) {
	sandbox.MaybeRunWorker()
	os.Exit(storagetest.Main(m))
}
