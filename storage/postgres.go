package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/pilcrow-cms/pilcrow/migrations"
)

// Dialect is which database a DB runs on. Code outside storage asks only
// where SQL must differ (full-text search, JSON field extraction); the rest
// is written once in the SQL both accept.
type Dialect int

const (
	// SQLite is the embedded default: one file, one writer.
	SQLite Dialect = iota
	// Postgres is PostgreSQL, for sites served by many nodes.
	Postgres
)

func (d Dialect) String() string {
	if d == Postgres {
		return "postgres"
	}
	return "sqlite"
}

func (d Dialect) migrations() migrations.Dialect {
	if d == Postgres {
		return migrations.Postgres
	}
	return migrations.SQLite
}

// Dialect is the database this DB runs on.
func (db *DB) Dialect() Dialect { return db.dialect }

// ErrBadDatabase: a --database value is neither sqlite:PATH nor a
// postgres:// URL.
var ErrBadDatabase = errors.New("database must be sqlite:PATH or a postgres:// URL")

// Database is a parsed --database value.
type Database struct {
	Dialect Dialect
	// Path is the SQLite file; URL the PostgreSQL connection URL.
	Path, URL string
}

// ParseDatabase reads a --database value: `sqlite:PATH` (a bare path means
// the same), or `postgres://…` / `postgresql://…` in libpq's URL form.
func ParseDatabase(s string) (Database, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return Database{}, fmt.Errorf("%w: it is empty", ErrBadDatabase)
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		if _, err := pgx.ParseConfig(s); err != nil {
			// pgx's message can quote the URL, password included.
			return Database{}, fmt.Errorf("%w: the postgres URL does not parse", ErrBadDatabase)
		}
		return Database{Dialect: Postgres, URL: s}, nil
	case strings.HasPrefix(s, "sqlite:"):
		p := strings.TrimPrefix(s, "sqlite:")
		if p == "" {
			return Database{}, fmt.Errorf("%w: sqlite: needs a file path", ErrBadDatabase)
		}
		return Database{Dialect: SQLite, Path: p}, nil
	case strings.Contains(s, "://"):
		return Database{}, fmt.Errorf("%w: %q is not a supported scheme", ErrBadDatabase, s[:strings.Index(s, "://")])
	}
	return Database{Dialect: SQLite, Path: s}, nil
}

// OpenDatabase opens d and brings its schema up to date.
func OpenDatabase(ctx context.Context, d Database, opts Options) (*DB, error) {
	if d.Dialect == Postgres {
		return openPostgres(ctx, d.URL, opts)
	}
	return OpenWith(ctx, d.Path, opts)
}

func openPostgres(ctx context.Context, rawURL string, opts Options) (*DB, error) {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("storage: %w: the postgres URL does not parse", ErrBadDatabase)
	}
	pool := sql.OpenDB(pgConnector{stdlib.GetConnector(*cfg)})
	n := max(8, runtime.GOMAXPROCS(0)*4)
	pool.SetMaxOpenConns(n)
	pool.SetMaxIdleConns(n)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	db := &DB{write: pool, read: pool, dialect: Postgres, gens: NewGenerations()}
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("storage: connect to postgres %s/%s: %w", cfg.Host, cfg.Database, err)
	}
	// Migrations run on plain pgx connections: goose binds Go bools for
	// its boolean column, which pgConnector would send as 0/1.
	plain := sql.OpenDB(stdlib.GetConnector(*cfg))
	err = migrations.Apply(ctx, plain, migrations.Postgres)
	plain.Close()
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("storage: %w", err)
	}
	if err := db.followGenerations(ctx, opts, cfg); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// pgTx is Tx on PostgreSQL: serializable, and run again (a fresh
// transaction, fn called anew) when PostgreSQL aborts it for a conflict with
// a concurrent one. fn must therefore keep its effects inside tx, or make
// them safe to repeat.
//
// The retries are bounded by time, not by count: under SSI each round of
// conflicting transactions lets at least one commit, so twenty saves
// contending for one slug range need up to twenty rounds, which a fixed
// dozen attempts did not always give. pgRetryFor matches SQLite's busy
// timeout in spirit: a writer waits its turn for seconds, not forever.
func (db *DB) pgTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	wait := time.Millisecond
	start := time.Now()
	for {
		err := db.pgTxOnce(ctx, fn)
		if err == nil || !isPgConflict(err) || time.Since(start) > pgRetryFor {
			return markDiskFull(err)
		}
		db.reruns.Add(1)
		// Jittered so two conflicting transactions do not meet again.
		d := wait/2 + time.Duration(rand.Int64N(int64(wait)))
		select {
		case <-ctx.Done():
			return fmt.Errorf("storage: %w (after a serialization conflict: %w)", ctx.Err(), err)
		case <-time.After(d):
		}
		wait = min(2*wait, 64*time.Millisecond)
	}
}

func (db *DB) pgTxOnce(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
	if err != nil {
		return fmt.Errorf("storage: begin: %w", err)
	}
	// Each attempt collects its own bumps and after-commit functions: a
	// rolled-back attempt's are dropped with it.
	st := &txState{}
	db.txs.Store(tx, st)
	defer db.txs.Delete(tx)
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := db.writeBumps(ctx, tx, st); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("storage: commit: %w", err)
	}
	db.committed(st)
	return nil
}

// pgRetryFor is how long pgTx keeps running a transaction again after
// serialization conflicts.
const pgRetryFor = 10 * time.Second

// PostgreSQL error codes (SQLSTATE) storage maps to its own meanings.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
	pgSerialization       = "40001"
	pgDeadlock            = "40P01"
	pgDiskFull            = "53100"
)

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func isPgConflict(err error) bool {
	c := pgCode(err)
	return c == pgSerialization || c == pgDeadlock
}

// OpenSpec opens a --database value (see ParseDatabase).
func OpenSpec(ctx context.Context, spec string, opts Options) (*DB, error) {
	d, err := ParseDatabase(spec)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	return OpenDatabase(ctx, d, opts)
}
