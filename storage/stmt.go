package storage

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// Statement is SQL text prepared once per database on the write connection,
// for the hot paths of writes. SQLite parses and plans a statement on every
// prepare, which on the save path (a handful of statements per entry) cost
// about a quarter of a create's CPU. SQLite re-plans a prepared statement by
// itself when the schema changes, so a preparation stays correct across
// ALTER TABLEs.
//
// Statements are declared at package level (NewStatement) and prepared by
// Open, outside any transaction: the write pool has one connection, which a
// transaction holds, so preparing later from inside one would wait forever.
type Statement struct{ query, pg string }

var statements struct {
	sync.Mutex
	all []*Statement
}

// NewStatement declares a statement for Exec, Query and QueryRow. Call it
// from a package-level var.
func NewStatement(query string) *Statement {
	s := &Statement{query: query}
	statements.Lock()
	statements.all = append(statements.all, s)
	statements.Unlock()
	return s
}

// WithPostgres gives s a text of its own on PostgreSQL, for the few
// statements whose SQLite text carries SQLite-only planner hints (a unary
// plus on a parameter, INDEXED BY). It returns s.
func (s *Statement) WithPostgres(query string) *Statement {
	s.pg = query
	return s
}

// Text is s's SQL on dialect d.
func (s *Statement) Text(d Dialect) string {
	if d == Postgres && s.pg != "" {
		return s.pg
	}
	return s.query
}

// prepareAll prepares every declared statement on the write connection.
func (db *DB) prepareAll(ctx context.Context) error {
	statements.Lock()
	all := append([]*Statement(nil), statements.all...)
	statements.Unlock()
	db.prepared = make(map[*Statement]*sql.Stmt, len(all))
	for _, s := range all {
		p, err := db.write.PrepareContext(ctx, s.query)
		if err != nil {
			return fmt.Errorf("storage: prepare %.60q: %w", s.query, err)
		}
		db.prepared[s] = p
	}
	return nil
}

func (db *DB) stmt(ctx context.Context, tx *sql.Tx, s *Statement) *sql.Stmt {
	if p := db.prepared[s]; p != nil {
		// On the write pool's one connection database/sql reuses the
		// driver statement; it prepares again only if that connection was
		// replaced.
		return tx.StmtContext(ctx, p)
	}
	return nil
}

// Exec runs s in tx, a transaction of Tx.
func (db *DB) Exec(ctx context.Context, tx *sql.Tx, s *Statement, args ...any) (sql.Result, error) {
	if p := db.stmt(ctx, tx, s); p != nil {
		return p.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, s.Text(db.dialect), args...)
}

// QueryRow runs s in tx, a transaction of Tx.
func (db *DB) QueryRow(ctx context.Context, tx *sql.Tx, s *Statement, args ...any) *sql.Row {
	if p := db.stmt(ctx, tx, s); p != nil {
		return p.QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, s.Text(db.dialect), args...)
}

// Query runs s in tx, a transaction of Tx.
func (db *DB) Query(ctx context.Context, tx *sql.Tx, s *Statement, args ...any) (*sql.Rows, error) {
	if p := db.stmt(ctx, tx, s); p != nil {
		return p.QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, s.Text(db.dialect), args...)
}

func (db *DB) closeStatements() {
	for _, p := range db.prepared {
		p.Close()
	}
}
