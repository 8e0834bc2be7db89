package cms

// This file holds the content package's SQLite-specific SQL: json_extract and
// the -> operator over the JSON data columns, partial expression indexes created
// per collection field, and FTS5. A PostgreSQL port replaces this file (jsonb
// expression indexes, tsvector).

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// sqlIdent double-checks a name before it is written into SQL text. Names come
// from validated collection definitions, never straight from a request.
func sqlIdent(name string) string {
	if !nameRE.MatchString(name) {
		panic(fmt.Sprintf("cms: unsafe identifier %q reached SQL", name))
	}
	return name
}

// fieldExpr is the SQL expression of a field's value in a data column. It must
// match the expression of syncIndexes' indexes character for character.
func fieldExpr(dataCol, field string) string {
	return "json_extract(" + dataCol + ", '$." + sqlIdent(field) + "')"
}

func indexName(kind, collection, field string) string {
	return fmt.Sprintf("ix_%s_%d_%s_%s", kind, len(collection), sqlIdent(collection), sqlIdent(field))
}

// publicIndexKind names the per-field indexes of the public copy. Before
// migration 00036 they were "p" indexes over published_data, which is now
// NULL while the public copy equals the working copy; UpgradeIndexes
// replaces them.
const publicIndexKind = "pub"

// syncIndexes keeps one partial expression index per indexed field for the
// working data (value, then rowid = seq, the admin lists' order) and one for
// the public copy (value, published_at, seq: the public lists' order). An
// equality filter with the default order then reads only the rows it returns,
// and other filters read index entries, not rows.
func syncIndexes(ctx context.Context, tx *sql.Tx, pg bool, collection string, oldFields, newFields []*Field) error {
	if pg {
		return pgSyncIndexes(ctx, tx, collection, oldFields, newFields)
	}
	for _, f := range oldFields {
		if n := fieldNamed(newFields, f.Name); n != nil && n.indexed() {
			continue
		}
		for _, kind := range []string{"d", "p", publicIndexKind} {
			if _, err := tx.ExecContext(ctx, `DROP INDEX IF EXISTS `+indexName(kind, collection, f.Name)); err != nil {
				return err
			}
		}
	}
	coll := sqlIdent(collection)
	for _, f := range newFields {
		if !f.indexed() {
			continue
		}
		// The partial WHERE terms repeat buildList's, word for word, so the
		// planner can prove the index applies.
		stmts := []string{
			`CREATE INDEX IF NOT EXISTS ` + indexName("d", collection, f.Name) + ` ON entries(` + fieldExpr("data", f.Name) +
				`) WHERE collection = '` + coll + `' AND status <> 'trashed'`,
			`CREATE INDEX IF NOT EXISTS ` + indexName(publicIndexKind, collection, f.Name) + ` ON entries(` + fieldExpr("COALESCE(published_data, data)", f.Name) +
				`, published_at) WHERE collection = '` + coll + `' AND published_version IS NOT NULL AND status <> 'trashed'`,
		}
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// UpgradeIndexes brings the per-field indexes of a database written by an
// older Pilcrow up to date: it drops the public-copy indexes over
// published_data alone (kind "p", which migration 00036 made partial to the
// few entries whose public copy differs) and creates every collection's
// missing indexes. A site calls it once at start; with nothing to do it
// costs one read of the schema.
func (c *Content) UpgradeIndexes(ctx context.Context) error {
	// Each stale object as the statement that drops it.
	var stale []string
	q := `SELECT 'DROP INDEX IF EXISTS "' || replace(name, '"', '""') || '"' FROM sqlite_master
		WHERE type = 'index' AND name LIKE 'ix\_p\_%' ESCAPE '\'`
	if c.pg() {
		// The same indexes on PostgreSQL, and the expression statistics
		// kept beside them (pgSyncIndexes).
		q = `SELECT 'DROP INDEX IF EXISTS ' || quote_ident(indexname) FROM pg_indexes
			WHERE schemaname = current_schema() AND tablename = 'entries' AND indexname LIKE 'ix\_p\_%' ESCAPE '\'
			UNION ALL SELECT 'DROP STATISTICS IF EXISTS ' || quote_ident(stxname) FROM pg_statistic_ext
			WHERE stxnamespace = current_schema()::regnamespace AND stxname LIKE 'ix\_sp\_%' ESCAPE '\'`
	}
	rows, err := c.db.Read().QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("upgrade indexes: %w", err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return fmt.Errorf("upgrade indexes: %w", err)
		}
		stale = append(stale, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("upgrade indexes: %w", err)
	}
	if len(stale) == 0 {
		return nil
	}
	cols, err := c.ListCollections(ctx)
	if err != nil {
		return fmt.Errorf("upgrade indexes: %w", err)
	}
	err = c.db.Tx(ctx, func(tx *sql.Tx) error {
		for _, drop := range stale {
			if _, err := tx.ExecContext(ctx, drop); err != nil {
				return err
			}
		}
		for _, col := range cols {
			if err := syncIndexes(ctx, tx, c.pg(), col.Name, nil, col.Fields); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("upgrade indexes: %w", err)
	}
	c.log.InfoContext(ctx, "rebuilt the public-copy field indexes", "dropped", len(stale), "collections", len(cols))
	return nil
}

const valuesOfFieldSQL = `SELECT id, data -> ?2 FROM entries WHERE collection = ?1
	UNION ALL SELECT id, published_data -> ?3 FROM entries WHERE collection = ?1 AND published_data IS NOT NULL`

func duplicateValue(ctx context.Context, tx *sql.Tx, pg bool, collection string, f *Field) (string, error) {
	if pg {
		return pgDuplicateValue(ctx, tx, collection, f)
	}
	expr := fieldExpr("data", f.Name)
	var v any
	err := tx.QueryRowContext(ctx, `SELECT `+expr+` AS v FROM entries WHERE collection = '`+sqlIdent(collection)+`' AND v IS NOT NULL
		GROUP BY v HAVING COUNT(*) > 1 LIMIT 1`).Scan(&v)
	if err == sql.ErrNoRows {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	b, _ := json.Marshal(v)
	return string(b), nil
}

// uniqueHolder finds another entry holding val in field. Live entries are
// found through the field's partial index, trashed ones through the status
// index (partial on status <> 'published': written out so the planner can
// prove it applies).
func uniqueHolder(ctx context.Context, tx querier, pg bool, collection string, f *Field, id string, val any) (string, error) {
	if pg {
		return pgUniqueHolder(ctx, tx, collection, f, id, val)
	}
	var other string
	coll, expr := sqlIdent(collection), fieldExpr("data", f.Name)
	err := tx.QueryRowContext(ctx, `SELECT id FROM entries WHERE collection = '`+coll+`' AND status <> 'trashed' AND `+expr+` = ?1 AND id <> ?2
		UNION ALL SELECT id FROM entries WHERE collection = '`+coll+`' AND status = 'trashed' AND status <> 'published' AND `+expr+` = ?1 AND id <> ?2 LIMIT 1`, val, id).Scan(&other)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return other, err
}

// indexText replaces an entry's row in an FTS5 table (rowid = entries.seq).
func (c *Content) indexText(ctx context.Context, tx *sql.Tx, table string, seq int64, text string) error {
	if table != "entries_fts" && table != "entries_pub_fts" {
		panic("cms: unknown FTS table " + table)
	}
	if c.pg() {
		return c.pgIndexText(ctx, tx, table, seq, text)
	}
	st := ftsStatements[table]
	if _, err := c.db.Exec(ctx, tx, st.delete, seq); err != nil {
		return err
	}
	if text == "" {
		return nil
	}
	_, err := c.db.Exec(ctx, tx, st.insert, seq, text)
	return err
}

// indexNewText adds an entry's text to a search table that holds no row for
// it: a new entry's working text (its seq was never used before,
// AUTOINCREMENT), or the public text of an entry that just started storing
// a public copy apart. With no row to replace, a delete on a
// contentless_delete table would only write a tombstone.
func (c *Content) indexNewText(ctx context.Context, tx *sql.Tx, table string, seq int64, text string) error {
	if text == "" {
		return nil
	}
	if c.pg() {
		// A tsvector row has no tombstones: the upsert is the insert.
		return c.pgIndexText(ctx, tx, table, seq, text)
	}
	_, err := c.db.Exec(ctx, tx, ftsStatements[table].insert, seq, text)
	return err
}

// ftsStatements are indexText's statements per search table.
var ftsStatements = map[string]struct{ delete, insert *storage.Statement }{
	"entries_fts": {storage.NewStatement(`DELETE FROM entries_fts WHERE rowid = ?`),
		storage.NewStatement(`INSERT INTO entries_fts (rowid, body) VALUES (?, ?)`)},
	"entries_pub_fts": {storage.NewStatement(`DELETE FROM entries_pub_fts WHERE rowid = ?`),
		storage.NewStatement(`INSERT INTO entries_pub_fts (rowid, body) VALUES (?, ?)`)},
}

func deleteFTSForCollection(ctx context.Context, tx *sql.Tx, pg bool, collection string) error {
	key := "rowid"
	if pg {
		key = "seq"
	}
	for _, t := range []string{"entries_fts", "entries_pub_fts"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE `+key+` IN (SELECT seq FROM entries WHERE collection = ?)`, collection); err != nil {
			return err
		}
	}
	return nil
}

func searchText(col *Collection, raw map[string]any) string {
	var b strings.Builder
	for _, f := range col.Fields {
		if !f.Type.searchable() {
			continue
		}
		if s, ok := raw[f.Name].(string); ok && s != "" {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(s)
		}
	}
	return b.String()
}

// column is something a list can sort or filter on.
type column struct {
	expr     string
	kind     FieldType // value type; TypeDatetime with ms=true for system times
	ms       bool      // an INTEGER unix-ms system column
	nullable bool
	field    *Field // nil for system columns
	pg       bool   // on PostgreSQL: ORDER BY spells out SQLite's NULL order
}

type listPlan struct {
	public  bool
	pg      bool
	dataCol string
	col     *Collection
}

func (p listPlan) resolve(name string) (column, bool) {
	switch name {
	case "createdAt":
		return column{expr: "e.created_at", kind: TypeDatetime, ms: true}, true
	case "publishedAt":
		return column{expr: "e.published_at", kind: TypeDatetime, ms: true, nullable: !p.public, pg: p.pg}, true
	case "id":
		return column{expr: "e.id", kind: TypeString}, true
	case "slug":
		if p.public {
			return column{expr: publicSlugExpr, kind: TypeString}, true
		}
		return column{expr: "e.slug", kind: TypeString}, true
	case "updatedAt":
		if !p.public {
			return column{expr: "e.updated_at", kind: TypeDatetime, ms: true}, true
		}
	}
	if f := p.col.Field(name); f != nil {
		return column{expr: fieldExprOf(p.pg, p.dataCol, f), kind: f.Type, nullable: true, field: f, pg: p.pg}, true
	}
	return column{}, false
}

type sortCol struct {
	column
	desc bool
}

type builtList struct {
	// where and args are the list's conditions; arms, when a cursor is given,
	// the rows after it as up to two index ranges (see applyCursor).
	where []string
	args  []any
	arms  []arm
	sort  []sortCol
	spec  string // canonical sort text, bound into cursors
	limit int
	// sortIndex is the index that yields the first sort key's order, when one
	// exists and applies; filterIndex the index of the first eq or in filter
	// on an indexed field; filtered says conditions narrow the rows.
	sortIndex   string
	filterIndex string
	filtered    bool
	// forceIndex makes the page query walk that index (see choosePlan).
	forceIndex string
	// ftsTable and ftsWhere locate a full-text condition, for query to let
	// the FTS tables drive the page when results are ordered by seq;
	// ftsTable is set for any search, and ftsPublic says it reads the
	// public text (see ftsSources).
	ftsTable  string
	ftsPublic bool
	ftsWhere  int
	// ftsArg is the index in args of the MATCH argument, repeated once per
	// search table (ftsSources); onlyFTS says the search is the list's only
	// filter (see ftsTopK).
	ftsArg   int
	onlyFTS  bool
	ftsTerms []string
	// pg: the list runs on PostgreSQL (see query_postgres.go).
	pg bool
}

// arm is one range of rows after a cursor. In a null arm the first sort key
// is NULL throughout, so the arm is ordered by the other keys only: SQLite
// does not see that an IS NULL term fixes the index's first column.
type arm struct {
	where []string
	args  []any
	null  bool
}

// buildList checks q against the collection and turns it into SQLite's SQL
// fragments.
func buildList(col *Collection, q ListQuery, public bool) (*builtList, error) {
	return buildListOn(false, col, q, public)
}

// buildListOn is buildList on SQLite or (pg) PostgreSQL.
func buildListOn(pg bool, col *Collection, q ListQuery, public bool) (*builtList, error) {
	p := listPlan{public: public, pg: pg, col: col, dataCol: "e.data"}
	if public {
		p.dataCol = publicDataExpr
	}
	b := &builtList{limit: q.Limit, pg: pg}
	if b.limit <= 0 {
		b.limit = DefaultLimit
	}
	var v ValidationError
	b.where = append(b.where, "e.collection = '"+sqlIdent(col.Name)+"'")
	switch {
	case public:
		if len(q.Status) > 0 {
			v.Add("/query/status", "is not available on the public API: it lists published entries only")
		}
		b.where = append(b.where, "e.published_version IS NOT NULL", "e.status <> 'trashed'")
	case len(q.Status) > 0:
		ph := make([]string, len(q.Status))
		for i, s := range q.Status {
			ph[i] = "?"
			b.args = append(b.args, string(s))
		}
		b.where = append(b.where, "e.status IN ("+strings.Join(ph, ", ")+")")
		if !slices.Contains(q.Status, StatusTrashed) {
			// Implied by the IN list, but written out so the planner can
			// prove the live-entry partial indexes apply.
			b.where = append(b.where, "e.status <> 'trashed'")
		}
		if !slices.Contains(q.Status, StatusPublished) {
			// The same for entries_status, which holds only the entries
			// that are not published (migration 00039): drafts, schedules
			// and the trash are few next to the published entries, which a
			// list finds by walking entries_live.
			b.where = append(b.where, "e.status <> 'published'")
		}
	default:
		b.where = append(b.where, "e.status <> 'trashed'")
	}
	for _, f := range q.Filters {
		p.addFilter(&v, b, f)
	}
	if q.Q != "" {
		fq := ftsQuery(q.Q)
		if pg {
			fq = pgTSQuery(q.Q)
		}
		if fq == "" {
			v.Add("/query/q", "has no words to search for")
		} else {
			b.ftsWhere = len(b.where)
			b.ftsArg = len(b.args)
			b.ftsTerms = ftsTerms(q.Q)
			b.ftsTable = "entries_fts"
			b.ftsPublic = public
			var conds []string
			for _, src := range b.ftsSources() {
				cond := "e.seq IN (SELECT rowid FROM " + src.table + " WHERE " + src.table + " MATCH ?)"
				if pg {
					cond = pgSearchCond(src.table)
				}
				if src.cond != "" {
					cond = src.cond + " AND " + cond
				}
				conds = append(conds, cond)
				b.args = append(b.args, fq)
			}
			if len(conds) == 1 {
				b.where = append(b.where, conds[0])
			} else {
				b.where = append(b.where, "("+strings.Join(conds, " OR ")+")")
			}
		}
	}
	p.buildSort(&v, b, q.Sort)
	if err := v.Err(); err != nil {
		return nil, err
	}
	b.filtered = len(q.Filters) > 0 || q.Q != "" || len(q.Status) > 0
	b.onlyFTS = b.ftsTable != "" && len(q.Filters) == 0 && len(q.Status) == 0
	if live := public || !slices.Contains(q.Status, StatusTrashed); live {
		kind := "d"
		if public {
			kind = publicIndexKind
		}
		switch first := b.sort[0]; {
		case first.field != nil && first.field.indexed():
			b.sortIndex = indexName(kind, col.Name, first.field.Name)
		case first.expr == "e.seq" && !public:
			b.sortIndex = "entries_live"
		case first.expr == "e.updated_at" && !public:
			b.sortIndex = "entries_updated"
		case first.expr == "e.published_at" && public:
			b.sortIndex = "entries_public"
		}
		for _, f := range q.Filters {
			if fd := col.Field(f.Field); fd != nil && fd.indexed() && (f.Op == "eq" || f.Op == "in") {
				b.filterIndex = indexName(kind, col.Name, fd.Name)
				break
			}
		}
	}
	if q.Cursor != "" {
		if err := b.applyCursor(q.Cursor); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (p listPlan) buildSort(v *ValidationError, b *builtList, keys []SortKey) {
	if len(keys) == 0 {
		if p.public {
			keys = []SortKey{{Field: "publishedAt", Desc: true}}
		} else {
			keys = []SortKey{{Field: "createdAt", Desc: true}}
		}
	}
	var spec []string
	seen := map[string]bool{}
	for _, k := range keys {
		c, ok := p.resolve(k.Field)
		if k.Field == "createdAt" {
			// seq follows creation order and is what every index ends with.
			c = column{expr: "e.seq", kind: TypeInteger}
		}
		if !ok {
			v.Add("/query/sort", fmt.Sprintf("%q is not a sortable field of collection %q", k.Field, p.col.Name))
			continue
		}
		if c.kind == TypeJSON || c.kind == TypeMultiselect || c.kind == TypeText || c.kind == TypeMarkdown {
			v.Add("/query/sort", fmt.Sprintf("cannot sort by %q: %s fields are not sortable", k.Field, c.kind))
			continue
		}
		b.sort = append(b.sort, sortCol{c, k.Desc})
		seen[c.expr] = true
		if k.Desc {
			spec = append(spec, "-"+k.Field)
		} else {
			spec = append(spec, k.Field)
		}
	}
	if len(b.sort) == 0 {
		return
	}
	// Tie-breakers in the last key's direction, matching the per-field indexes
	// (value, seq) and (value, published_at, seq), so keyset pages are stable.
	desc := b.sort[len(b.sort)-1].desc
	ties := []column{{expr: "e.seq", kind: TypeInteger}}
	if p.public {
		pa, _ := p.resolve("publishedAt")
		ties = append([]column{pa}, ties...)
	}
	for _, c := range ties {
		if !seen[c.expr] {
			seen[c.expr] = true
			b.sort = append(b.sort, sortCol{c, desc})
		}
	}
	b.spec = strings.Join(spec, ",")
}

func (p listPlan) addFilter(v *ValidationError, b *builtList, f Filter) {
	path := "/query/" + f.Param
	c, ok := p.resolve(f.Field)
	if !ok {
		v.Add(path, fmt.Sprintf("%q is not a field of collection %q", f.Field, p.col.Name))
		return
	}
	allowed := map[string]bool{"eq": true, "ne": true, "in": true}
	switch c.kind {
	case TypeNumber, TypeInteger, TypeDatetime:
		allowed["lt"], allowed["lte"], allowed["gt"], allowed["gte"] = true, true, true, true
	case TypeString, TypeText, TypeMarkdown, TypeSlug:
		allowed["lt"], allowed["lte"], allowed["gt"], allowed["gte"], allowed["contains"] = true, true, true, true, true
	case TypeBoolean:
		delete(allowed, "in")
	case TypeMultiselect:
		allowed["contains"] = true
	case TypeJSON:
		allowed = map[string]bool{}
	}
	if !allowed[f.Op] {
		v.Add(path, fmt.Sprintf("operator %q does not apply to %s fields", f.Op, c.kind))
		return
	}
	raw := []string{f.Value}
	if f.Op == "in" {
		raw = strings.Split(f.Value, ",")
		if len(raw) > maxInValues {
			v.Add(path, fmt.Sprintf("takes at most %d values", maxInValues))
			return
		}
	}
	vals := make([]any, 0, len(raw))
	for _, s := range raw {
		if f.Op == "contains" {
			vals = append(vals, s)
			continue
		}
		x, err := filterValue(c, s)
		if err != nil {
			v.Add(path, err.Error())
			return
		}
		vals = append(vals, x)
	}
	if p.pg {
		p.pgAddFilter(b, c, f, vals)
		return
	}
	if c.kind == TypeMultiselect {
		sub := "SELECT 1 FROM json_each(" + p.dataCol + ", '$." + sqlIdent(c.field.Name) + "') WHERE value "
		switch f.Op {
		case "eq", "contains":
			b.where = append(b.where, "EXISTS ("+sub+"= ?)")
		case "ne":
			b.where = append(b.where, "NOT EXISTS ("+sub+"= ?)")
		case "in":
			b.where = append(b.where, "EXISTS ("+sub+"IN ("+placeholders(len(vals))+"))")
		}
		b.args = append(b.args, vals...)
		return
	}
	// SQLite's IS NOT is its null-safe inequality, and its LIKE ignores
	// ASCII case.
	b.addComparison(c.expr, f, vals, "IS NOT", "LIKE")
}

// comparisons are the filter operators that compare a field's value with
// the bound one(s) the same way on both databases.
var comparisons = map[string]string{"eq": "=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}

// addComparison adds a checked filter on a single-valued field, given the
// dialect's null-safe inequality and case-insensitive LIKE.
func (b *builtList) addComparison(expr string, f Filter, vals []any, notEqual, like string) {
	switch op, ok := comparisons[f.Op]; {
	case ok:
		b.where = append(b.where, expr+" "+op+" ?")
	case f.Op == "ne":
		b.where = append(b.where, expr+" "+notEqual+" ?")
	case f.Op == "in":
		b.where = append(b.where, expr+" IN ("+placeholders(len(vals))+")")
	case f.Op == "contains":
		b.where = append(b.where, expr+" "+like+` ? ESCAPE '\'`)
		vals[0] = "%" + contentLikeEscape(f.Value) + "%"
	}
	b.args = append(b.args, vals...)
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func contentLikeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// filterValue converts query text to the SQL value a column holds.
func filterValue(c column, s string) (any, error) {
	switch c.kind {
	case TypeNumber, TypeInteger:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		if x == math.Trunc(x) && math.Abs(x) <= maxSafeInteger {
			return int64(x), nil
		}
		return x, nil
	case TypeBoolean:
		switch s {
		case "true":
			return int64(1), nil
		case "false":
			return int64(0), nil
		}
		return nil, fmt.Errorf("%q is not true or false", s)
	case TypeDatetime:
		t, err := parseTime(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an RFC 3339 date-time", s)
		}
		if c.ms {
			return t.UnixMilli(), nil
		}
		return t.UTC().Format(DatetimeLayout), nil
	}
	return s, nil
}

// cursorDoc is what a cursor encodes: the sort it belongs to and the last row's
// sort values.
type cursorDoc struct {
	Sort   string `json:"s"`
	Values []any  `json:"v"`
}

func encodeCursor(spec string, vals []any) string {
	b, _ := json.Marshal(cursorDoc{Sort: spec, Values: vals})
	return base64.RawURLEncoding.EncodeToString(b)
}

var errBadCursor = &ValidationError{Errors: []FieldError{{"/query/cursor", "is not a cursor this server issued for this sort"}}}

// applyCursor adds the keyset condition "after the cursor row" in sort order.
// SQLite orders NULL before every value, so NULL is the smallest.
func (b *builtList) applyCursor(cur string) error {
	raw, err := base64.RawURLEncoding.DecodeString(cur)
	if err != nil {
		return errBadCursor
	}
	var doc cursorDoc
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil || doc.Sort != b.spec || len(doc.Values) != len(b.sort) {
		return errBadCursor
	}
	vals := make([]any, len(doc.Values))
	for i, x := range doc.Values {
		switch n := x.(type) {
		case json.Number:
			if iv, err := n.Int64(); err == nil {
				vals[i] = iv
			} else if fv, err := n.Float64(); err == nil {
				vals[i] = fv
			} else {
				return errBadCursor
			}
		case string, nil:
			vals[i] = n
		default:
			return errBadCursor
		}
		if vals[i] == nil && !b.sort[i].nullable {
			return errBadCursor
		}
	}
	if b.pg {
		b.pgCursor(vals)
		return nil
	}
	// SQLite's IS is its null-safe equality.
	cond, args := b.keysetAfter(vals, func(s sortCol) string { return s.expr + " IS ?" })
	// Each arm is a range of the first key, so SQLite seeks into the index
	// instead of walking it from the start. SQLite orders NULL first, which
	// makes "after the cursor" two ranges when the first key is nullable: the
	// non-NULL values below the cursor and then the NULLs (descending), or
	// the NULLs after the cursor row and then every value (ascending).
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
			b.arms = append(b.arms, arm{where: []string{first.expr + " IS NULL"}, null: true})
		}
	case first.desc:
		rest.where = append([]string{first.expr + " IS NULL"}, rest.where...)
		rest.null = true
		b.arms = []arm{rest}
	default:
		rest.where = append([]string{first.expr + " IS NULL"}, rest.where...)
		rest.null = true
		// ">= -Inf" is "IS NOT NULL" for stored values (SQLite orders every
		// number before every string), written as a range SQLite seeks to.
		b.arms = []arm{rest, {where: []string{first.expr + " >= ?"}, args: []any{math.Inf(-1)}}}
	}
	return nil
}

// keysetAfter is "the row sorts after the cursor row vals" over b.sort, in
// the NULL order every list spells out (NULLs first ascending, last
// descending), with eq as the dialect's equality of an earlier key: one OR
// arm per key, that key past the cursor and the keys before it equal.
func (b *builtList) keysetAfter(vals []any, eq func(sortCol) string) (string, []any) {
	var ors []string
	var args []any
	for i, s := range b.sort {
		var and []string
		for j := 0; j < i; j++ {
			and = append(and, eq(b.sort[j]))
			args = append(args, vals[j])
		}
		switch {
		case !s.desc && vals[i] == nil:
			and = append(and, s.expr+" IS NOT NULL")
		case !s.desc:
			and = append(and, s.expr+" > ?")
			args = append(args, vals[i])
		case vals[i] == nil:
			and = append(and, "FALSE")
		case s.nullable:
			and = append(and, "("+s.expr+" < ? OR "+s.expr+" IS NULL)")
			args = append(args, vals[i])
		default:
			and = append(and, s.expr+" < ?")
			args = append(args, vals[i])
		}
		ors = append(ors, "("+strings.Join(and, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")", args
}

// query renders the statement and its arguments: selectCols, then one
// column per sort key. The page is chosen by an inner query that selects only
// seq, so when SQLite has to sort, it sorts small keys rather than whole rows;
// the outer query then reads just the rows of the page.
func (b *builtList) query(selectCols string) (string, []any) {
	var sel []string
	for _, s := range b.sort {
		sel = append(sel, s.expr)
	}
	inner, args := b.inner()
	return "SELECT " + selectCols + ", " + strings.Join(sel, ", ") + " FROM entries e WHERE e.seq IN (" + inner + ")" + b.orderBy(), args
}

func (b *builtList) orderBy() string { return orderBy(b.sort) }

func orderBy(keys []sortCol) string {
	var order []string
	for _, s := range keys {
		dir := "ASC"
		if s.desc {
			dir = "DESC"
		}
		switch {
		case s.pg && s.nullable && s.desc:
			dir += " NULLS LAST"
		case s.pg && s.nullable:
			dir += " NULLS FIRST"
		}
		order = append(order, s.expr+" "+dir)
	}
	return " ORDER BY " + strings.Join(order, ", ")
}

// inner is the page's seq query: one ordered, limited SELECT per cursor arm
// (and, for a search driven by its tables, per search table), joined with
// UNION ALL (the outer query orders the pages and takes the first).
func (b *builtList) inner() (string, []any) {
	arms := b.arms
	if len(arms) == 0 {
		arms = []arm{{}}
	}
	type part struct {
		text string
		args []any
	}
	var parts []part
	for _, a := range arms {
		innerOrder := b.orderBy()
		if a.null {
			innerOrder = orderBy(b.sort[1:])
		}
		if b.ftsTable != "" && b.sort[0].expr == "e.seq" {
			// Newest-first search: walk the FTS matches in rowid (= seq) order and
			// stop when the page is full, instead of collecting every match; a
			// public search walks each of its tables so.
			for _, src := range b.ftsSources() {
				w, args := b.withFTS(src.table+" MATCH ?", src.cond)
				w = append(w, a.where...)
				where := "e.seq = " + src.table + ".rowid AND " + strings.ReplaceAll(strings.Join(w, " AND "), "e.seq", src.table+".rowid")
				parts = append(parts, part{"SELECT e.seq FROM " + src.table + " CROSS JOIN entries e WHERE " + where +
					strings.ReplaceAll(innerOrder, "e.seq", src.table+".rowid") + " LIMIT " + strconv.Itoa(b.limit+1), append(args, a.args...)})
			}
			continue
		}
		from := "entries e"
		if b.forceIndex != "" {
			from += " INDEXED BY " + b.forceIndex
		}
		w := append(slices.Clone(b.where), a.where...)
		parts = append(parts, part{"SELECT e.seq FROM " + from + " WHERE " + strings.Join(w, " AND ") + innerOrder + " LIMIT " + strconv.Itoa(b.limit+1),
			append(slices.Clone(b.args), a.args...)})
	}
	var texts []string
	var args []any
	for _, p := range parts {
		if len(parts) > 1 {
			p.text = "SELECT seq FROM (" + p.text + ")"
		}
		texts = append(texts, p.text)
		args = append(args, p.args...)
	}
	return strings.Join(texts, " UNION ALL "), args
}

// ftsSource is a search table a list's matches come from, and the condition
// on the entry under which its rows count.
type ftsSource struct{ table, cond string }

// ftsSources are the tables a search reads. A public search reads the
// public text of every published entry (entries_pub_fts). The admin's reads
// the working text, which for most entries is the public text: entries_fts
// holds the working text only of the entries that are not published or
// store a public copy apart (published_data NOT NULL, a draft over the
// published version), so the admin's search takes entries_fts's matches
// among those and entries_pub_fts's among the others (published, no draft).
// Keeping the drafts out of the public table keeps public search from
// walking past them.
func (b *builtList) ftsSources() []ftsSource {
	if b.ftsPublic {
		return []ftsSource{{table: "entries_pub_fts"}}
	}
	return []ftsSource{{"entries_fts", "(e.published_version IS NULL OR e.published_data IS NOT NULL)"},
		{"entries_pub_fts", "e.published_version IS NOT NULL AND e.published_data IS NULL"}}
}

// withFTS is the list's conditions and arguments with the search condition
// replaced by cond (taking the MATCH argument once) and extra, or removed
// when cond is "".
func (b *builtList) withFTS(cond, extra string) ([]string, []any) {
	n := len(b.ftsSources())
	where := slices.Clone(b.where)
	args := slices.Clone(b.args)
	args = slices.Delete(args, b.ftsArg+1, b.ftsArg+n)
	if cond == "" {
		where = slices.Delete(where, b.ftsWhere, b.ftsWhere+1)
		args = slices.Delete(args, b.ftsArg, b.ftsArg+1)
		return where, args
	}
	if extra != "" {
		cond += " AND " + extra
	}
	where[b.ftsWhere] = cond
	return where, args
}

// setFTSArg replaces the MATCH argument (each of its copies).
func (b *builtList) setFTSArg(v any) {
	for i := range b.ftsSources() {
		b.args[b.ftsArg+i] = v
	}
}

type scanner interface{ Scan(dest ...any) error }

// keyedRow scans a list row: the caller's columns, then the sort keys.
type keyedRow struct {
	rows *sql.Rows
	keys []any
}

func (r *keyedRow) Scan(dest ...any) error {
	for i := range r.keys {
		dest = append(dest, &r.keys[i])
	}
	return r.rows.Scan(dest...)
}

// walkThreshold is how many matching rows make walking the sort index (and
// testing each row against the filters) cheaper than sorting every match.
const walkThreshold = 1000

// choosePlan picks the index a page query walks, because SQLite's planner
// does not weigh LIMIT: left alone it finds every row of the collection (or
// every match of a filter) and sorts them all for a 20-row page.
//
// Unfiltered, the index of the first sort key yields the page directly: a
// seek to the cursor and limit+1 index entries. Filtered, a capped count of
// the matches decides: with at least walkThreshold of them, walking the sort
// index finds a page within about limit × total/matches rows; with fewer, the
// filter's own index (eq or in) finds every match, and sorting fewer than
// walkThreshold keys is cheap.
func choosePlan(ctx context.Context, db *sql.DB, stmts *readStmts, b *builtList) error {
	if b.ftsTable != "" && b.sort[0].expr == "e.seq" {
		return nil // the FTS table drives the page (see inner)
	}
	if !b.filtered {
		b.forceIndex = b.sortIndex
		return nil
	}
	if b.sortIndex == "" && b.filterIndex == "" {
		return nil
	}
	var n int
	st, err := stmts.stmt(ctx, db, "SELECT COUNT(*) FROM (SELECT 1 FROM entries e WHERE "+strings.Join(b.where, " AND ")+
		" LIMIT "+strconv.Itoa(walkThreshold)+")")
	if err == nil {
		err = st.QueryRowContext(ctx, b.args...).Scan(&n)
	}
	if err != nil {
		return fmt.Errorf("list entries: %w", err)
	}
	if n >= walkThreshold && b.sortIndex != "" {
		b.forceIndex = b.sortIndex
	} else if n < walkThreshold && b.filterIndex != "" {
		b.forceIndex = b.filterIndex
	}
	return nil
}

// runList executes the list, handing each row to scan, and returns the cursor
// of the last row when there is a next page.
func runList(ctx context.Context, db *sql.DB, stmts *readStmts, b *builtList, selectCols string, scan func(row scanner) error) (string, error) {
	if b.pg && b.ftsTable != "" {
		return pgRunSearch(ctx, db, b, selectCols, scan)
	}
	if b.pg {
		text, args := b.pgQuery(selectCols)
		rows, err := stmts.query(ctx, db, text, args...)
		if err != nil {
			return "", fmt.Errorf("list entries: %w", err)
		}
		return scanPage(b, rows, scan)
	}
	if err := expandPrefix(ctx, db, stmts, b); err != nil {
		return "", err
	}
	seqs, topK, err := ftsTopK(ctx, db, stmts, b)
	if err != nil {
		return "", err
	}
	var text string
	var args []any
	if topK {
		// The page is among seqs: read those rows, in order.
		var in strings.Builder
		for i, s := range seqs {
			if i > 0 {
				in.WriteString(", ")
			}
			in.WriteString(strconv.FormatInt(s, 10))
		}
		var sel []string
		for _, s := range b.sort {
			sel = append(sel, s.expr)
		}
		text = "SELECT " + selectCols + ", " + strings.Join(sel, ", ") + " FROM entries e WHERE e.seq IN (" + in.String() + ")" + b.orderBy() +
			" LIMIT " + strconv.Itoa(b.limit+1)
	} else {
		if err := choosePlan(ctx, db, stmts, b); err != nil {
			return "", err
		}
		text, args = b.query(selectCols)
	}
	var rows *sql.Rows
	if topK {
		rows, err = db.QueryContext(ctx, text, args...) // the text holds the page's seqs
	} else {
		rows, err = stmts.query(ctx, db, text, args...)
	}
	if err != nil && b.forceIndex != "" {
		// The index hint is an optimisation; should SQLite refuse it, the
		// planner's own plan still gives the right page.
		b.forceIndex = ""
		text, args = b.query(selectCols)
		rows, err = db.QueryContext(ctx, text, args...)
	}
	if err != nil {
		return "", fmt.Errorf("list entries: %w", err)
	}
	return scanPage(b, rows, scan)
}

// readPage runs a page query and scans it (see scanPage).
func readPage(ctx context.Context, db *sql.DB, b *builtList, text string, args []any, scan func(row scanner) error) (string, error) {
	rows, err := db.QueryContext(ctx, text, args...)
	if err != nil {
		return "", fmt.Errorf("list entries: %w", err)
	}
	return scanPage(b, rows, scan)
}

// scanPage hands each row of a page query to scan and returns the cursor of
// the last row when there is a next page.
func scanPage(b *builtList, rows *sql.Rows, scan func(row scanner) error) (string, error) {
	defer rows.Close()
	n := 0
	var last []any
	for rows.Next() {
		n++
		if n > b.limit {
			return encodeCursor(b.spec, last), rows.Err()
		}
		row := &keyedRow{rows: rows, keys: make([]any, len(b.sort))}
		if err := scan(row); err != nil {
			return "", fmt.Errorf("list entries: %w", err)
		}
		last = row.keys
	}
	return "", rows.Err()
}

// mediaRefsQuery finds entries whose working or published data names a media id
// in field, each branch shaped to use an index (the field's partial indexes
// for live entries, the status index for the trash).
func mediaRefsQuery(pg bool, collection string, f *Field) string {
	if pg {
		return pgMediaRefsQuery(collection, f)
	}
	coll, d, p := sqlIdent(collection), fieldExpr("data", f.Name), fieldExpr("published_data", f.Name)
	pub := fieldExpr("COALESCE(published_data, data)", f.Name)
	return `SELECT id, slug FROM entries WHERE collection = '` + coll + `' AND status <> 'trashed' AND ` + d + ` = ?1
		UNION SELECT id, slug FROM entries WHERE collection = '` + coll + `' AND published_version IS NOT NULL AND status <> 'trashed' AND ` + pub + ` = ?1
		UNION SELECT id, slug FROM entries WHERE collection = '` + coll + `' AND status = 'trashed' AND status <> 'published' AND (` + d + ` = ?1 OR ` + p + ` = ?1)`
}
