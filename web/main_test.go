package web_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

// Test sites run plugins in sandbox worker processes started from this test
// binary (os.Executable), so it must become a worker when asked (as
// sandboxtest.Main does). After a full run the contract coverage check may
// still fail it (contract_test.go).
func TestMain(m *testing.M) {
	sandbox.MaybeRunWorker()
	code := m.Run()
	storagetest.Stop()
	if err := contractCoverage(); code == 0 && err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}
