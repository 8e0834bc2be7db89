//go:build unix

package storage

import (
	"fmt"
	"os"
	"syscall"
)

// lockMigrations holds an exclusive advisory lock on path+".migrate" while
// migrations run, so two processes starting on one new database do not both
// create its tables (goose's version check and the DDL are not one
// transaction). The lock goes with the process if it dies.
func lockMigrations(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path+".migrate", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("storage: migration lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: migration lock: %w", err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
