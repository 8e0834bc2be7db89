// Package storage owns Pilcrow's persistence: the site database (SQLite, or
// PostgreSQL for many nodes; the only place with driver details), plugin data
// and blob stores.
package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/pilcrow-cms/pilcrow/migrations"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// DB is the site database. SQLite allows one writer at a time, so writes go
// through a pool of exactly one connection: writers queue in Go instead of
// racing for the file lock, and users never see SQLITE_BUSY. Reads use a
// separate pool and proceed concurrently thanks to WAL.
//
// On PostgreSQL (see OpenDatabase) both pools are one pool and transactions
// run concurrently, at the serializable level, so the code written for
// SQLite's one writer stays correct: a transaction that would have seen
// another's write is rolled back and run again.
type DB struct {
	write   *sql.DB
	read    *sql.DB
	path    string
	dialect Dialect
	// prepared holds the declared Statements, prepared by Open and only
	// read after it.
	prepared map[*Statement]*sql.Stmt
	// turn orders the transactions waiting for write.
	turn writeTurn

	// gens is this process's view of the generations table; txs maps each
	// open transaction of Tx to what it collects for its commit (bumps,
	// after-commit functions).
	gens *Generations
	txs  sync.Map // *sql.Tx → *txState
	// stopFollowing ends the re-check loop (and the PostgreSQL listener);
	// following is done when they have.
	stopFollowing context.CancelFunc
	following     sync.WaitGroup
	// reruns counts transactions Tx ran again after a conflict.
	reruns atomic.Uint64
}

// Reruns is how many times Tx has run a transaction again after a
// serialization failure or a deadlock (PostgreSQL; SQLite's single writer
// has none): what concurrent writes cost beyond their own work.
func (db *DB) Reruns() uint64 { return db.reruns.Load() }

// SyncMode is SQLite's synchronous setting, which decides when a commit
// waits for the disk.
type SyncMode string

const (
	// SyncNormal (the default): in WAL mode a commit is appended to the WAL
	// without an fsync; the WAL is fsynced at checkpoints. A crash of the
	// process loses nothing; a power cut or kernel crash may lose the last
	// commits (never corrupts the database).
	SyncNormal SyncMode = "normal"
	// SyncFull fsyncs the WAL on every commit: an acknowledged write survives
	// a power cut, at the cost of one fsync per save.
	SyncFull SyncMode = "full"
)

// ParseSyncMode reads --sync.
func ParseSyncMode(s string) (SyncMode, error) {
	switch m := SyncMode(s); m {
	case SyncNormal, SyncFull:
		return m, nil
	case "":
		return SyncNormal, nil
	}
	return "", fmt.Errorf("sync mode %q: want normal or full", s)
}

// Options tune Open.
type Options struct {
	// Sync is the durability mode; empty is SyncNormal.
	Sync SyncMode
	// Recheck is how often the generations table is re-read for other
	// processes' writes; zero is DefaultRecheck.
	Recheck time.Duration
	// Log receives the re-check loop's warnings; nil is slog.Default().
	Log *slog.Logger
}

// Open opens (creating if needed) the SQLite database at path and applies
// migrations, with the default options.
func Open(ctx context.Context, path string) (*DB, error) {
	return OpenWith(ctx, path, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, path string, opts Options) (*DB, error) {
	sync, err := ParseSyncMode(string(opts.Sync))
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("storage: create data folder: %w", err)
	}
	write, err := sql.Open("sqlite", dsn(path, sync, true))
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)

	read, err := sql.Open("sqlite", dsn(path, sync, false))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0)*2)
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)

	db := &DB{write: write, read: read, path: path, gens: NewGenerations()}
	// The first connection is made under the migration lock too: it turns a
	// new database to WAL, which another process opening the same new file
	// at that moment would see as SQLITE_BUSY at once, busy_timeout or not
	// (nodes started together).
	unlock, err := lockMigrations(path)
	if err != nil {
		db.Close()
		return nil, err
	}
	if err := write.PingContext(ctx); err != nil {
		unlock()
		db.Close()
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	err = migrations.Apply(ctx, write, migrations.SQLite)
	if err == nil {
		err = dropKeySamples(ctx, write)
	}
	unlock()
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("storage: %w", err)
	}
	if err := db.prepareAll(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.followGenerations(ctx, opts, nil); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func dsn(path string, sync SyncMode, writer bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+strings.ToUpper(string(sync))+")")
	if writer {
		// BEGIN IMMEDIATE takes the write lock up front, so a transaction never
		// fails half-way when it upgrades from reading to writing.
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	return "file:" + path + "?" + q.Encode()
}

// Path is the database file's location ("" on PostgreSQL).
func (db *DB) Path() string { return db.path }

// Read is the pool for queries that do not write.
func (db *DB) Read() *sql.DB { return db.read }

// Write is the single-connection pool for statements that write. Prefer Tx.
func (db *DB) Write() *sql.DB { return db.write }

// Tx runs fn in a write transaction, committing when fn returns nil and rolling
// back otherwise, so a failed request leaves no partial write behind.
//
// Transactions take turns for the write connection (see writeTurn): those
// of ctx marked WithQueuePriority first.
//
// Topics fn bumps (Bump) are written just before the commit; after it, this
// process's view of them advances and the functions fn registered with
// AfterCommit run, all before Tx returns, so the caller's next read sees
// its caches invalidated.
func (db *DB) Tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if db.dialect == Postgres {
		return db.pgTx(ctx, fn)
	}
	if err := db.turn.take(ctx); err != nil {
		return fmt.Errorf("storage: begin: %w", err)
	}
	given := false
	give := func() {
		if !given {
			given = true
			db.turn.give()
		}
	}
	defer give()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return markDiskFull(fmt.Errorf("storage: begin: %w", err))
	}
	st := &txState{}
	db.txs.Store(tx, st)
	defer db.txs.Delete(tx)
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return markDiskFull(err)
	}
	if err := db.writeBumps(ctx, tx, st); err != nil {
		_ = tx.Rollback()
		return markDiskFull(err)
	}
	if err := tx.Commit(); err != nil {
		return markDiskFull(fmt.Errorf("storage: commit: %w", err))
	}
	// The next writer need not wait for what the commit wakes.
	give()
	db.committed(st)
	return nil
}

// Ping checks that both pools can reach the database.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.read.PingContext(ctx); err != nil {
		return err
	}
	var one int
	return db.read.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// CheckSchema reports whether the database's schema version is the one this
// binary's migrations bring it to (see migrations.Check).
func (db *DB) CheckSchema(ctx context.Context) error {
	return migrations.Check(ctx, db.read, db.dialect.migrations())
}

// Close checkpoints the WAL and closes both pools.
func (db *DB) Close() error {
	if db.stopFollowing != nil {
		db.stopFollowing()
		db.following.Wait()
	}
	db.closeStatements()
	if db.dialect == Postgres {
		return db.write.Close()
	}
	_, _ = db.write.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	return errors.Join(db.read.Close(), db.write.Close())
}

// IsUniqueViolation reports whether err is a UNIQUE or PRIMARY KEY constraint failure.
func IsUniqueViolation(err error) bool {
	if pgCode(err) == pgUniqueViolation {
		return true
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// IsForeignKeyViolation reports whether err is a FOREIGN KEY constraint failure.
func IsForeignKeyViolation(err error) bool {
	if pgCode(err) == pgForeignKeyViolation {
		return true
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

// dropKeySamples empties sqlite_stat4, the sampled key values ANALYZE (and
// PRAGMA optimize) writes besides sqlite_stat1's row counts, and has SQLite
// reload its statistics. With samples present, a statement whose bound
// values could change its plan is prepared again at every execution, and
// FTS5's own term lookups are such statements: measured on a database
// ANALYZE had run on, public search spent a quarter of its CPU preparing
// them again, and a join of a token and its owner cost 3×. Pilcrow's
// queries are planned to need no statistics (with hints where a plan
// matters), so an operator's ANALYZE keeps the row counts and loses only
// the samples, at the next start.
func dropKeySamples(ctx context.Context, write *sql.DB) error {
	var n int
	if err := write.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_stat4'`).Scan(&n); err != nil {
		return fmt.Errorf("look for sqlite_stat4: %w", err)
	}
	if n == 0 {
		return nil
	}
	res, err := write.ExecContext(ctx, `DELETE FROM sqlite_stat4`)
	if err != nil {
		return fmt.Errorf("empty sqlite_stat4: %w", err)
	}
	if rows, _ := res.RowsAffected(); rows == 0 {
		return nil
	}
	// ANALYZE of sqlite_schema reloads the statistics without computing any.
	if _, err := write.ExecContext(ctx, `ANALYZE sqlite_schema`); err != nil {
		return fmt.Errorf("reload statistics: %w", err)
	}
	return nil
}
