package storage

import (
	"context"
	"fmt"
	"time"
)

// NowMillisSQL is an SQL expression for the database's clock in
// milliseconds since the Unix epoch. Leases and due times that several
// processes compare are computed with it, never with a process's own clock,
// so machines whose clocks drift apart still agree on which lease has
// expired. (julianday works on every SQLite version; unixepoch('subsec')
// needs 3.42.)
const NowMillisSQL = `CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)`

// Now reads the database's clock.
func (db *DB) Now(ctx context.Context) (time.Time, error) {
	var ms int64
	if err := db.read.QueryRowContext(ctx, `SELECT `+NowMillisSQL).Scan(&ms); err != nil {
		return time.Time{}, fmt.Errorf("storage: read the database clock: %w", err)
	}
	return time.UnixMilli(ms), nil
}
