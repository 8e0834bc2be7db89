package storage

import (
	"context"
	"database/sql/driver"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/stdlib"
)

// pgConnector opens pgx connections that accept the SQL the rest of Pilcrow
// writes: `?` placeholders (SQLite's and database/sql's common spelling)
// become PostgreSQL's `$1, $2, …`, the few expressions storage spells for
// SQLite (NowMillisSQL) become their PostgreSQL equivalents, and Go bools
// are sent as 0/1, the integers both schemas store them as. Doing it under
// database/sql keeps *sql.DB and *sql.Tx the one interface callers use on
// either database.
type pgConnector struct{ inner driver.Connector }

func (c pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &pgConn{conn.(*stdlib.Conn)}, nil
}

func (c pgConnector) Driver() driver.Driver { return c.inner.Driver() }

type pgConn struct{ *stdlib.Conn }

func (c *pgConn) Prepare(query string) (driver.Stmt, error) {
	return c.Conn.Prepare(rewriteForPostgres(query))
}

func (c *pgConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.PrepareContext(ctx, rewriteForPostgres(query))
}

func (c *pgConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.ExecContext(ctx, rewriteForPostgres(query), args)
}

func (c *pgConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.QueryContext(ctx, rewriteForPostgres(query), args)
}

func (c *pgConn) CheckNamedValue(nv *driver.NamedValue) error {
	if b, ok := nv.Value.(bool); ok {
		if b {
			nv.Value = int64(1)
		} else {
			nv.Value = int64(0)
		}
		return nil
	}
	return c.Conn.CheckNamedValue(nv)
}

// pgSpellings are SQLite expressions storage exports for callers to splice
// into queries, with their PostgreSQL equivalents.
var pgSpellings = strings.NewReplacer(
	NowMillisSQL, `(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint`,
)

// rewritten caches rewriteForPostgres: queries are mostly a fixed set of
// strings, and the rewrite is on every statement's path.
var rewritten sync.Map // string → string

const maxRewriteCache = 4096

var rewrittenCount struct {
	sync.Mutex
	n int
}

func rewriteForPostgres(query string) string {
	if v, ok := rewritten.Load(query); ok {
		return v.(string)
	}
	out := rebindPostgres(pgSpellings.Replace(query))
	rewrittenCount.Lock()
	// Queries built per request (lists with their filters) vary without
	// bound; past the cap they are rewritten each time instead of kept.
	if rewrittenCount.n < maxRewriteCache {
		rewrittenCount.n++
		rewritten.Store(query, out)
	}
	rewrittenCount.Unlock()
	return out
}

// rebindPostgres numbers the `?` placeholders of query as `$1…$n` (a
// numbered `?NNN` becomes `$NNN`; a statement uses one spelling), leaving
// alone any `?` inside a string literal, a quoted identifier, a comment or a
// dollar-quoted body.
func rebindPostgres(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(query) {
				if query[j] == c {
					if j+1 < len(query) && query[j+1] == c { // doubled quote
						j += 2
						continue
					}
					break
				}
				j++
			}
			end := min(j+1, len(query))
			b.WriteString(query[i:end])
			i = end
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				j = len(query) - i
			}
			b.WriteString(query[i : i+j])
			i += j
		case c == '/' && i+1 < len(query) && query[i+1] == '*':
			j := strings.Index(query[i+2:], "*/")
			end := len(query)
			if j >= 0 {
				end = i + 2 + j + 2
			}
			b.WriteString(query[i:end])
			i = end
		case c == '$':
			// $tag$ … $tag$ (tag possibly empty); a `$1` is a parameter.
			j := i + 1
			for j < len(query) && (query[j] == '_' || isAlnum(query[j])) {
				j++
			}
			if j < len(query) && query[j] == '$' && (j == i+1 || !isDigit(query[i+1])) {
				tag := query[i : j+1]
				k := strings.Index(query[j+1:], tag)
				end := len(query)
				if k >= 0 {
					end = j + 1 + k + len(tag)
				}
				b.WriteString(query[i:end])
				i = end
				continue
			}
			b.WriteByte(c)
			i++
		case c == '?' && i+1 < len(query) && isDigit(query[i+1]):
			// SQLite's numbered parameter ?NNN is PostgreSQL's $NNN.
			j := i + 1
			for j < len(query) && isDigit(query[j]) {
				j++
			}
			b.WriteByte('$')
			b.WriteString(query[i+1 : j])
			i = j
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			i++
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}
