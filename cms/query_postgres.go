package cms

// This file holds the content package's PostgreSQL-specific SQL, the
// counterpart of query_sqlite.go: typed jsonb field extraction, the
// per-field partial expression indexes, null ordering spelled out, and
// keyset pages over them. The list builder (buildList) is shared; where the
// two databases need different SQL it asks listPlan.pg / builtList.pg.

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// pg reports whether c runs on PostgreSQL.
func (c *Content) pg() bool { return c.db.Dialect() == storage.Postgres }

// pgFieldExpr is a field's value in a data column, typed as SQLite's
// json_extract types it, so that filters, sorts and cursors compare the same
// way on both databases: numbers as float8, booleans as 1/0 (json_extract's
// integers), everything else as text in byte order (COLLATE "C", SQLite's
// BINARY), whatever the database's default collation. A missing key or a
// JSON null is SQL NULL, as on SQLite. Stored values always have their
// field's type (checkFieldChanges refuses type changes that would break
// that), so the float8 cast does not fail.
//
// The text is also the per-field indexes' expression (pgSyncIndexes), which
// PostgreSQL matches structurally, so "e.data" and "data" are the same.
func pgFieldExpr(dataCol string, f *Field) string {
	x := "(" + dataCol + ")::jsonb ->> '" + sqlIdent(f.Name) + "'"
	switch f.Type {
	case TypeNumber, TypeInteger:
		return "((" + x + ")::float8)"
	case TypeBoolean:
		return "(CASE " + x + " WHEN 'true' THEN 1 WHEN 'false' THEN 0 END)"
	}
	return "((" + x + ") COLLATE \"C\")"
}

// pgIndexName is indexName within PostgreSQL's 63-byte identifiers, which
// it would otherwise truncate silently, so that two long names sharing a
// prefix became one index: a long name keeps its start and ends in a hash
// of the whole.
func pgIndexName(kind, collection, field string) string {
	n := indexName(kind, collection, field)
	if len(n) <= 63 {
		return n
	}
	sum := sha256.Sum256([]byte(n))
	return n[:46] + "_" + hex.EncodeToString(sum[:8])
}

// fieldExprOf is fieldExpr on the given database.
func fieldExprOf(pg bool, dataCol string, f *Field) string {
	if pg {
		return pgFieldExpr(dataCol, f)
	}
	return fieldExpr(dataCol, f.Name)
}

// pgPublicData is the public copy (see publicDataExpr) in index and
// statistics expressions, which PostgreSQL matches to the lists' aliased
// COALESCE(e.published_data, e.data).
const pgPublicData = "COALESCE(published_data, data)"

// pgSyncIndexes is syncIndexes on PostgreSQL: per indexed field, a partial
// index over the working data (value, seq) and one over the public copy
// (value, published_at, seq), NULLs first as SQLite orders them, so an
// ascending page reads the index forwards and a descending one backwards.
// The WHERE terms repeat buildList's so the planner can prove the index
// applies.
//
// Beside each index, a statistics object on its expression: PostgreSQL
// keeps statistics of index expressions, but does not use those of partial
// indexes, and without them it guesses that a value matches 0.5% of the
// rows, which sends an "in" filter of a few rare values on a walk of the
// sort index instead of into the field's. (Expression statistics need
// PostgreSQL 14.)
func pgSyncIndexes(ctx context.Context, tx *sql.Tx, collection string, oldFields, newFields []*Field) error {
	for _, f := range oldFields {
		if n := fieldNamed(newFields, f.Name); n != nil && n.indexed() && n.Type == f.Type {
			continue
		}
		for _, kind := range []string{"d", "p", publicIndexKind} {
			if _, err := tx.ExecContext(ctx, `DROP INDEX IF EXISTS `+pgIndexName(kind, collection, f.Name)); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DROP STATISTICS IF EXISTS `+pgIndexName("s"+kind, collection, f.Name)); err != nil {
				return err
			}
		}
	}
	coll := sqlIdent(collection)
	for _, f := range newFields {
		if !f.indexed() {
			continue
		}
		stmts := []string{
			`CREATE INDEX IF NOT EXISTS ` + pgIndexName("d", collection, f.Name) + ` ON entries (` + pgFieldExpr("data", f) +
				` NULLS FIRST, seq) WHERE collection = '` + coll + `' AND status <> 'trashed'`,
			`CREATE INDEX IF NOT EXISTS ` + pgIndexName(publicIndexKind, collection, f.Name) + ` ON entries (` + pgFieldExpr(pgPublicData, f) +
				` NULLS FIRST, published_at, seq) WHERE collection = '` + coll + `' AND published_version IS NOT NULL AND status <> 'trashed'`,
			`CREATE STATISTICS IF NOT EXISTS ` + pgIndexName("sd", collection, f.Name) + ` ON (` + pgFieldExpr("data", f) + `) FROM entries`,
			`CREATE STATISTICS IF NOT EXISTS ` + pgIndexName("s"+publicIndexKind, collection, f.Name) + ` ON (` + pgFieldExpr(pgPublicData, f) + `) FROM entries`,
		}
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// pgValuesOfFieldSQL is valuesOfFieldSQL on PostgreSQL: each stored value of
// field ?2 as JSON text (?3 is the same name, for the published copy).
const pgValuesOfFieldSQL = `SELECT id, (data::jsonb -> CAST(?2 AS text))::text FROM entries WHERE collection = ?1
	UNION ALL SELECT id, (published_data::jsonb -> CAST(?3 AS text))::text FROM entries WHERE collection = ?1 AND published_data IS NOT NULL`

func pgDuplicateValue(ctx context.Context, tx *sql.Tx, collection string, f *Field) (string, error) {
	var v any
	err := tx.QueryRowContext(ctx, `SELECT v FROM (SELECT `+pgFieldExpr("data", f)+` AS v FROM entries WHERE collection = '`+sqlIdent(collection)+`') d
		WHERE v IS NOT NULL GROUP BY v HAVING COUNT(*) > 1 LIMIT 1`).Scan(&v)
	if err == sql.ErrNoRows {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if f.Type == TypeBoolean {
		v = v == int64(1)
	}
	b, _ := json.Marshal(v)
	return string(b), nil
}

// pgCursor is applyCursor's keyset condition on PostgreSQL, where NULLs are
// ordered as on SQLite only because every ORDER BY says so (NULLS FIRST
// ascending, NULLS LAST descending). PostgreSQL's index scans take IS NULL
// and IS NOT NULL as index conditions and keep the index order under them,
// so each arm is one range of the sort index in the full sort order.
func (b *builtList) pgCursor(vals []any) {
	eq := func(s sortCol) string {
		if s.nullable {
			return s.expr + " IS NOT DISTINCT FROM ?"
		}
		return s.expr + " = ?"
	}
	cond, args := b.keysetAfter(vals, eq)
	first, v0 := b.sort[0], vals[0]
	rest := arm{where: []string{cond}, args: args}
	switch {
	case v0 != nil && !first.desc:
		rest.where = append([]string{first.expr + " >= ?"}, rest.where...)
		rest.args = append([]any{v0}, rest.args...)
		b.arms = []arm{rest}
	case v0 != nil:
		rest.where = append([]string{first.expr + " <= ?"}, rest.where...)
		rest.args = append([]any{v0}, rest.args...)
		b.arms = []arm{rest}
		if first.nullable {
			b.arms = append(b.arms, arm{where: []string{first.expr + " IS NULL"}})
		}
	case first.desc:
		rest.where = append([]string{first.expr + " IS NULL"}, rest.where...)
		b.arms = []arm{rest}
	default:
		rest.where = append([]string{first.expr + " IS NULL"}, rest.where...)
		b.arms = []arm{rest, {where: []string{first.expr + " IS NOT NULL"}}}
	}
}

// pgAddFilter renders a checked filter on PostgreSQL; vals are the bound
// values filterValue made (or the raw text for contains).
func (p listPlan) pgAddFilter(b *builtList, c column, f Filter, vals []any) {
	if c.kind == TypeMultiselect {
		// The stored array of option strings; jsonb_exists is the function
		// behind the ? operator, which the driver would read as a parameter.
		arr := "((" + p.dataCol + ")::jsonb -> '" + sqlIdent(c.field.Name) + "')"
		switch f.Op {
		case "eq", "contains":
			b.where = append(b.where, "COALESCE(jsonb_exists("+arr+", CAST(? AS text)), FALSE)")
		case "ne":
			b.where = append(b.where, "NOT COALESCE(jsonb_exists("+arr+", CAST(? AS text)), FALSE)")
		case "in":
			ph := strings.TrimSuffix(strings.Repeat("CAST(? AS text), ", len(vals)), ", ")
			b.where = append(b.where, "COALESCE(jsonb_exists_any("+arr+", ARRAY["+ph+"]), FALSE)")
		}
		b.args = append(b.args, vals...)
		return
	}
	// An IN list is an = ANY(array) index condition: one index descent per
	// value. SQLite's LIKE ignores ASCII case; ILIKE does (in the C
	// collation of the field expressions, ASCII only, too).
	b.addComparison(c.expr, f, vals, "IS DISTINCT FROM", "ILIKE")
}

// pgQuery is query on PostgreSQL: the page's seqs from one ordered, limited
// SELECT per cursor arm, then the rows. PostgreSQL's planner weighs LIMIT
// and walks the sort index when that is cheaper than sorting the matches,
// so there is no index to force (SQLite's INDEXED BY has no counterpart).
func (b *builtList) pgQuery(selectCols string) (string, []any) {
	inner, args := b.pgInner()
	var sel []string
	for _, s := range b.sort {
		sel = append(sel, s.expr)
	}
	return "SELECT " + selectCols + ", " + strings.Join(sel, ", ") + " FROM entries e WHERE e.seq IN (" + inner + ")" + b.orderBy(), args
}

// pgInner is the page's seq query (see pgQuery).
func (b *builtList) pgInner() (string, []any) {
	arms := b.arms
	if len(arms) == 0 {
		arms = []arm{{}}
	}
	var parts []string
	var args []any
	for i, a := range arms {
		w := append(append([]string{}, b.where...), a.where...)
		part := "SELECT e.seq FROM entries e WHERE " + strings.Join(w, " AND ") + b.orderBy() + " LIMIT " + strconv.Itoa(b.limit+1)
		if len(arms) > 1 {
			part = "SELECT seq FROM (" + part + ") a" + strconv.Itoa(i)
		}
		parts = append(parts, part)
		args = append(append(args, b.args...), a.args...)
	}
	return strings.Join(parts, " UNION ALL "), args
}

// pgMediaRefsQuery is mediaRefsQuery on PostgreSQL.
func pgMediaRefsQuery(collection string, f *Field) string {
	coll, d, p := sqlIdent(collection), pgFieldExpr("data", f), pgFieldExpr("published_data", f)
	pub := pgFieldExpr(pgPublicData, f)
	return `SELECT id, slug FROM entries WHERE collection = '` + coll + `' AND status <> 'trashed' AND ` + d + ` = ?1
		UNION SELECT id, slug FROM entries WHERE collection = '` + coll + `' AND published_version IS NOT NULL AND status <> 'trashed' AND ` + pub + ` = ?1
		UNION SELECT id, slug FROM entries WHERE collection = '` + coll + `' AND status = 'trashed' AND status <> 'published' AND (` + d + ` = ?1 OR ` + p + ` = ?1)`
}

// pgUniqueHolder is uniqueHolder on PostgreSQL. In a serializable
// transaction the read takes predicate locks on what it found (or did not):
// two saves that both see a value free and both write it cannot both commit,
// and the one that retries sees the other's entry.
func pgUniqueHolder(ctx context.Context, tx querier, collection string, f *Field, id string, val any) (string, error) {
	var other string
	coll, expr := sqlIdent(collection), pgFieldExpr("data", f)
	err := tx.QueryRowContext(ctx, `SELECT id FROM entries WHERE collection = '`+coll+`' AND status <> 'trashed' AND `+expr+` = ?1 AND id <> ?2
		UNION ALL SELECT id FROM entries WHERE collection = '`+coll+`' AND status = 'trashed' AND status <> 'published' AND `+expr+` = ?1 AND id <> ?2 LIMIT 1`, val, id).Scan(&other)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return other, err
}
