package cms

import (
	"os"
	"testing"

	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

// TestMain stops the PostgreSQL server the tests about PostgreSQL start.
func TestMain(m *testing.M) { os.Exit(storagetest.Main(m)) }
