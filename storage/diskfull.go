package storage

import (
	"errors"
	"fmt"
	"syscall"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrDiskFull: a write failed because the filesystem (or the user's quota) has
// no room left. Nothing was written; reads still work, and the same write
// succeeds once space is freed, without a restart. The web layer answers 507.
var ErrDiskFull = errors.New("storage is full: the server's disk has no space left for this write")

// IsDiskFull reports whether err is, or wraps, a disk-full failure: the
// ErrDiskFull sentinel, SQLITE_FULL from the database, or ENOSPC/EDQUOT from a
// file write. Callers that see errors which did not pass through this package
// (a raw *os.PathError from a temp file) are covered too.
func IsDiskFull(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrDiskFull) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return true
	}
	if pgCode(err) == pgDiskFull {
		return true
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		// Code is the extended result code; its low byte is the primary one.
		return se.Code()&0xff == sqlite3.SQLITE_FULL
	}
	return false
}

// markDiskFull wraps err with ErrDiskFull when it is a disk-full failure, so
// callers can test for the sentinel alone; other errors pass unchanged.
func markDiskFull(err error) error {
	if err == nil || errors.Is(err, ErrDiskFull) || !IsDiskFull(err) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrDiskFull, err)
}
