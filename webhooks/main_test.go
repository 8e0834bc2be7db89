package webhooks

import (
	"os"
	"testing"

	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

func TestMain(m *testing.M) { os.Exit(storagetest.Main(m)) }
