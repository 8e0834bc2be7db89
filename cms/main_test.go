package cms

import (
	"os"
	"testing"

	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

// TestMain runs the suite on the database PILCROW_TEST_DATABASE names
// (SQLite by default, or PostgreSQL) and stops the PostgreSQL server after.
func TestMain(m *testing.M) { os.Exit(storagetest.Main(m)) }
