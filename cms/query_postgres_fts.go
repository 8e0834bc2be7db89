package cms

// Full-text search on PostgreSQL: one tsvector per entry and copy
// (entries_fts, entries_pub_fts: seq, body) with a GIN index, the
// counterpart of query_sqlite_fts.go's FTS5 tables.

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// searchWords splits text into the words SQLite's FTS5 tokenizer
// (unicode61, remove_diacritics 2) indexes: runs of letters and digits,
// lower-cased, diacritics removed. PostgreSQL's parser would read
// "example.com" or "a-b" as single tokens and lower-case only ASCII in the C
// locale; handing it words already split and folded makes its 'simple'
// configuration index exactly these, so a search finds what it finds on
// SQLite.
func searchWords(s string) []string {
	fold := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	if f, _, err := transform.String(fold, s); err == nil {
		s = f
	}
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.Is(unicode.Co, r)
	})
}

// pgSearchDocument is the text to_tsvector reads for an entry: its distinct
// words, space-separated. Positions are not needed (searches are words and a
// prefix, never phrases), and keeping each word once keeps a long entry
// far below the tsvector size limit.
func pgSearchDocument(text string) string {
	seen := map[string]bool{}
	var b strings.Builder
	for _, w := range searchWords(text) {
		if seen[w] {
			continue
		}
		seen[w] = true
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
	return b.String()
}

// pgTSQuery is a search's tsquery text: every word must match, the last as a
// prefix ('foo' & 'ba':*). Words hold only letters and digits, and each is
// quoted, so no user input is read as tsquery syntax. "" when q has no words.
func pgTSQuery(q string) string {
	var words []string
	for _, t := range ftsTerms(q) {
		words = append(words, searchWords(t)...)
	}
	if len(words) > 20 {
		words = words[:20]
	}
	parts := make([]string, len(words))
	for i, w := range words {
		parts[i] = "'" + strings.ReplaceAll(w, "'", "''") + "'"
		if i == len(words)-1 {
			parts[i] += ":*"
		}
	}
	return strings.Join(parts, " & ")
}

// pgSearchCond is the list condition "the entry matches the search" over
// table; its one parameter is pgTSQuery's text.
func pgSearchCond(table string) string {
	return "e.seq IN (SELECT seq FROM " + table + " WHERE body @@ to_tsquery('simple', ?))"
}

// pgIndexText is indexText on PostgreSQL.
func (c *Content) pgIndexText(ctx context.Context, tx *sql.Tx, table string, seq int64, text string) error {
	doc := pgSearchDocument(text)
	if doc == "" {
		_, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE seq = ?`, seq)
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (seq, body) VALUES (?, to_tsvector('simple', ?))
		ON CONFLICT (seq) DO UPDATE SET body = excluded.body`, seq, doc)
	return err
}

// pgRunSearch runs a list with a full-text condition on PostgreSQL without
// leaving the plan to the planner's guess of how many entries match:
// PostgreSQL estimates a prefix query at 2% of the entries whatever the
// word, so for a rare word it walks the sort index to the end probing every
// entry (0.5 s at 100k), and for a common one it may collect and sort every
// match. Instead, as ftsTopK does on SQLite:
//
//  1. walk the first pgSearchWalk × (limit+1) entries of the page's range
//     in sort order and keep those that match, each probed by primary key
//     (a scalar subquery, which the planner cannot turn into a join that
//     reads every match first); with limit+1 of them the page is theirs
//     (no later entry can sort before them);
//  2. otherwise the matches are rare in that stretch: collect every match
//     from the GIN index (a materialized set, so the planner cannot go back
//     to walking) and sort those.
//
// Step 1 reads at most pgSearchWalk index entries and probes; step 2 reads
// as many entries as match.
func pgRunSearch(ctx context.Context, db *sql.DB, b *builtList, selectCols string, scan func(row scanner) error) (string, error) {
	n := b.limit + 1
	walk := min(pgSearchWalk*n, 2000)
	ftsArg := b.args[b.ftsArg]
	where, args := b.withFTS("", "")
	sources := b.ftsSources()
	var first arm
	if len(b.arms) > 0 {
		first = b.arms[0]
	}
	keys := make([]string, len(b.sort))
	outer := make([]sortCol, len(b.sort))
	for i, s := range b.sort {
		keys[i] = s.expr + " AS k" + strconv.Itoa(i)
		outer[i] = s
		outer[i].expr = "w.k" + strconv.Itoa(i)
	}
	// Each walked entry is probed in the search table its text is in
	// (ftsSources: for the admin's search, a published entry without a
	// draft in entries_pub_fts, the others in entries_fts).
	src, probe := "", "(SELECT f.body @@ to_tsquery('simple', ?) FROM "+sources[0].table+" f WHERE f.seq = w.seq)"
	probeArgs := []any{ftsArg}
	if len(sources) > 1 {
		src = ", (" + sources[1].cond + ") AS other"
		probe = "CASE WHEN w.other THEN (SELECT f.body @@ to_tsquery('simple', ?) FROM " + sources[1].table + " f WHERE f.seq = w.seq)" +
			" ELSE (SELECT f.body @@ to_tsquery('simple', ?) FROM " + sources[0].table + " f WHERE f.seq = w.seq) END"
		probeArgs = []any{ftsArg, ftsArg}
	}
	q1 := "SELECT w.seq FROM (SELECT e.seq" + src + ", " + strings.Join(keys, ", ") + " FROM entries e WHERE " +
		strings.Join(append(slices.Clone(where), first.where...), " AND ") + b.orderBy() + " LIMIT " + strconv.Itoa(walk) +
		") w WHERE " + probe + orderBy(outer) + " LIMIT " + strconv.Itoa(n)
	rows, err := db.QueryContext(ctx, q1, append(append(slices.Clone(args), first.args...), probeArgs...)...)
	if err != nil {
		return "", fmt.Errorf("search entries: %w", err)
	}
	var seqs []string
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return "", fmt.Errorf("search entries: %w", err)
		}
		seqs = append(seqs, strconv.FormatInt(s, 10))
	}
	if err := rows.Close(); err != nil {
		return "", fmt.Errorf("search entries: %w", err)
	}
	var sel []string
	for _, s := range b.sort {
		sel = append(sel, s.expr)
	}
	head := "SELECT " + selectCols + ", " + strings.Join(sel, ", ") + " FROM entries e WHERE e.seq IN ("
	if len(seqs) == n {
		return readPage(ctx, db, b, head+strings.Join(seqs, ", ")+")"+b.orderBy(), nil, scan)
	}
	// Every match, one materialized set per search table.
	every := *b
	every.where, every.args = b.withFTS("e.seq IN (SELECT seq FROM m0)", sources[0].cond)
	every.args = slices.Delete(every.args, b.ftsArg, b.ftsArg+1)
	ctes := []string{"m0 AS MATERIALIZED (SELECT seq FROM " + sources[0].table + " WHERE body @@ to_tsquery('simple', ?))"}
	cteArgs := []any{ftsArg}
	if len(sources) > 1 {
		every.where[b.ftsWhere] = "(" + every.where[b.ftsWhere] + " OR " + sources[1].cond + " AND e.seq IN (SELECT seq FROM m1))"
		ctes = append(ctes, "m1 AS MATERIALIZED (SELECT seq FROM "+sources[1].table+" WHERE body @@ to_tsquery('simple', ?))")
		cteArgs = append(cteArgs, ftsArg)
	}
	inner, innerArgs := every.pgInner()
	inner = "WITH " + strings.Join(ctes, ", ") + " " + inner
	return readPage(ctx, db, b, head+inner+")"+b.orderBy(), append(cteArgs, innerArgs...), scan)
}

// pgSearchWalk × (limit+1) is how many entries in sort order pgRunSearch
// probes before it collects every match instead: a word in one entry of
// pgSearchWalk fills the page from the walk.
const pgSearchWalk = 20
