package cms

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// maxOutOfOrder bounds how many entries ftsTopK reads from the sort index
// ahead of its candidates before it gives up and lets SQLite sort every match.
// A variable so that a test can make the fallback happen on a small fixture.
var maxOutOfOrder = 2000

// ftsTopK finds the page of a full-text search ordered by something other
// than seq (the public API's default, newest published first) without
// collecting and sorting every match, which is what SQLite does: a common
// word matches a quarter of a collection, and materialising those rowids
// costs milliseconds, where the page needs twenty.
//
// The FTS table is ordered by rowid (= seq), and for most entries the sort
// order follows seq (entries are published roughly in creation order), so:
//
//  1. walk the matches newest seq first and take the first limit+1 (F), the
//     way a newest-first search does;
//  2. with fewer than that, F is every match;
//  3. otherwise any match that belongs on the page but is not in F has a seq
//     below F's smallest and sorts before F's last key: read the entries that
//     sort before that key from the sort index (at most maxOutOfOrder, which
//     in creation-ordered data are about limit × entries/matches rows), keep
//     those with a smaller seq, and ask the FTS table which of them match.
//
// It returns the candidate seqs (a superset of the page, in no order) and
// ok=false when the shape does not apply or step 3 would read too much; the
// caller then runs the plain plan.
//
// Its statements depend on the list's shape, never on values, and are
// prepared once (stmts): a public search runs one per search table.
func ftsTopK(ctx context.Context, db *sql.DB, stmts *readStmts, b *builtList) (seqs []int64, ok bool, err error) {
	if b.ftsTable == "" || !b.onlyFTS || b.sortIndex == "" || b.sort[0].expr == "e.seq" || len(b.arms) > 1 {
		return nil, false, nil
	}
	for _, s := range b.sort {
		if s.nullable {
			return nil, false, nil
		}
	}
	var arm arm
	if len(b.arms) == 1 {
		arm = b.arms[0]
	}
	keys := make([]string, len(b.sort))
	for i, s := range b.sort {
		keys[i] = s.expr
	}
	n := b.limit + 1
	type cand struct {
		seq  int64
		keys []any
	}
	// Step 1: the newest matches by seq, with their sort keys: the first n
	// of each search table, of which the first n by seq are F.
	var found []cand
	for _, src := range b.ftsSources() {
		fts := src.table
		w, args := b.withFTS(fts+" MATCH ?", src.cond)
		w = append(w, arm.where...)
		q1 := "SELECT e.seq, " + strings.Join(keys, ", ") + " FROM " + fts + " CROSS JOIN entries e WHERE e.seq = " + fts + ".rowid AND " +
			strings.Join(w, " AND ") + " ORDER BY " + fts + ".rowid DESC LIMIT " + strconv.Itoa(n)
		rows, err := stmts.query(ctx, db, q1, append(args, arm.args...)...)
		if err != nil {
			return nil, false, fmt.Errorf("search entries: %w", err)
		}
		for rows.Next() {
			c := cand{keys: make([]any, len(keys))}
			dest := []any{&c.seq}
			for i := range c.keys {
				dest = append(dest, &c.keys[i])
			}
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return nil, false, fmt.Errorf("search entries: %w", err)
			}
			found = append(found, c)
		}
		if err := rows.Close(); err != nil {
			return nil, false, fmt.Errorf("search entries: %w", err)
		}
	}
	slices.SortFunc(found, func(x, y cand) int { return cmp.Compare(y.seq, x.seq) })
	found = found[:min(len(found), n)]
	for _, c := range found {
		seqs = append(seqs, c.seq)
	}
	if len(found) < n {
		return seqs, true, nil // every match
	}

	// Step 3: the last key of F in sort order, and F's smallest seq.
	last := slices.MaxFunc(found, func(x, y cand) int { return b.compareKeys(x.keys, y.keys) })
	minSeq := found[len(found)-1].seq
	w, args := b.withFTS("", "")
	w = append(w, arm.where...)
	before, beforeArgs := b.sortsBefore(last.keys)
	w = append(w, before)
	// Each entry with the search table its text is in (ftsSources' order).
	sources := b.ftsSources()
	src := "0"
	if len(sources) > 1 {
		src = "(" + sources[1].cond + ")"
	}
	q2 := "SELECT e.seq, " + src + " FROM entries e INDEXED BY " + b.sortIndex + " WHERE " + strings.Join(w, " AND ") + b.orderBy() +
		" LIMIT " + strconv.Itoa(maxOutOfOrder+1)
	ftsArg := b.args[b.ftsArg]
	args = append(append(args, arm.args...), beforeArgs...)
	rows, err := stmts.query(ctx, db, q2, args...)
	if err != nil {
		return nil, false, nil // the index hint refused: the plain plan still answers
	}
	older := make([][]int64, len(sources))
	read := 0
	for rows.Next() {
		var s, in int64
		if err := rows.Scan(&s, &in); err != nil {
			rows.Close()
			return nil, false, fmt.Errorf("search entries: %w", err)
		}
		read++
		if s < minSeq {
			older[in] = append(older[in], s)
		}
	}
	if err := rows.Close(); err != nil {
		return nil, false, fmt.Errorf("search entries: %w", err)
	}
	if read > maxOutOfOrder {
		return nil, false, nil
	}
	// Which of the out-of-order entries match: one walk of the matches in
	// their seq range (FTS5 seeks to a rowid range) per search table,
	// intersected here.
	for i, src := range sources {
		o := older[i]
		if len(o) == 0 {
			continue
		}
		fts := src.table
		slices.Sort(o)
		rows, err = stmts.query(ctx, db, "SELECT rowid FROM "+fts+" WHERE "+fts+" MATCH ? AND rowid BETWEEN ? AND ?", ftsArg, o[0], o[len(o)-1])
		if err != nil {
			return nil, false, fmt.Errorf("search entries: %w", err)
		}
		for rows.Next() {
			var s int64
			if err := rows.Scan(&s); err != nil {
				rows.Close()
				return nil, false, fmt.Errorf("search entries: %w", err)
			}
			if _, hit := slices.BinarySearch(o, s); hit {
				seqs = append(seqs, s)
			}
		}
		if err := rows.Close(); err != nil {
			return nil, false, fmt.Errorf("search entries: %w", err)
		}
	}
	return seqs, true, nil
}

// compareKeys orders two rows' sort values as the list does: negative when
// x comes first. Values are SQLite's (int64, float64, string, []byte, never
// NULL here: ftsTopK takes non-nullable keys only).
func (b *builtList) compareKeys(x, y []any) int {
	for i, s := range b.sort {
		c := compareSQL(x[i], y[i])
		if s.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// compareSQL compares two SQLite values the way ORDER BY does with the
// BINARY collation: numbers before text before blobs.
func compareSQL(x, y any) int {
	rank := func(v any) int {
		switch v.(type) {
		case int64, float64:
			return 1
		case string:
			return 2
		}
		return 3
	}
	if rx, ry := rank(x), rank(y); rx != ry {
		return cmp.Compare(rx, ry)
	}
	switch a := x.(type) {
	case int64:
		if b, ok := y.(int64); ok {
			return cmp.Compare(a, b)
		}
		return cmp.Compare(float64(a), y.(float64))
	case float64:
		if b, ok := y.(int64); ok {
			return cmp.Compare(a, float64(b))
		}
		return cmp.Compare(a, y.(float64))
	case string:
		return strings.Compare(a, y.(string))
	case []byte:
		return bytes.Compare(a, y.([]byte))
	}
	return 0
}

// sortsBefore is the condition "the row sorts before vals" in the list's
// order, for non-nullable keys: (k1 before v1) OR (k1 = v1 AND k2 before v2)…
func (b *builtList) sortsBefore(vals []any) (string, []any) {
	var ors []string
	var args []any
	for i, s := range b.sort {
		var and []string
		for j := range i {
			and = append(and, b.sort[j].expr+" = ?")
			args = append(args, vals[j])
		}
		op := " < ?"
		if s.desc {
			op = " > ?"
		}
		and = append(and, s.expr+op)
		args = append(args, vals[i])
		ors = append(ors, "("+strings.Join(and, " AND ")+")")
	}
	// The first key's range, written alone too, so SQLite seeks into the index.
	op := " <= ?"
	if b.sort[0].desc {
		op = " >= ?"
	}
	return b.sort[0].expr + op + " AND (" + strings.Join(ors, " OR ") + ")", append([]any{vals[0]}, args...)
}

// maxExpansion is how many longer terms a prefix may stand for and still be
// asked for by name. Each named term costs a seek into the index, and a
// prefix of many terms is usually a prefix of rare ones ("4242" of 42420…
// 42429), whose lists FTS5 merges cheaply: ten named terms made such a
// search three times slower. Few longer terms are typically a common word's
// plural or derivations, next to the common word itself.
const maxExpansion = 3

// expandPrefix rewrites the search's last word, a prefix, as the terms of
// the index it covers ("foxtrot" OR "foxtrots"), found in the table's term
// list (migration 00035). FTS5 answers a prefix query by merging the
// document lists of every covered term before it returns a row: for a word
// in a quarter of 100k entries that is most of a search's cost, although a
// newest-first page needs a few hundred of those documents. Named terms are
// read lazily. The term list is read from just past the word (word + NUL,
// which no term contains): reading a term's row counts its documents, the
// word itself is usually the common one, and it is always asked for.
//
// Only plain ASCII letters and digits of three or more characters are
// expanded: the index's tokenizer folds case and diacritics of other text in
// ways a byte range cannot follow, and short prefixes cover many terms.
// Otherwise, or with more than maxExpansion longer terms, the prefix query
// stays.
func expandPrefix(ctx context.Context, db *sql.DB, stmts *readStmts, b *builtList) error {
	if b.ftsTable == "" || len(b.ftsTerms) == 0 {
		return nil
	}
	last := strings.ToLower(b.ftsTerms[len(b.ftsTerms)-1])
	if len(last) < 3 {
		return nil
	}
	for i := 0; i < len(last); i++ {
		if c := last[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return nil
		}
	}
	upper := last[:len(last)-1] + string(last[len(last)-1]+1)
	// The terms of every table the search reads (a public search's two).
	var terms []string
	for _, src := range b.ftsSources() {
		rows, err := stmts.query(ctx, db, "SELECT term FROM "+src.table+"_terms WHERE term >= ? AND term < ? LIMIT "+strconv.Itoa(maxExpansion+1), last+"\x00", upper)
		if err != nil {
			return fmt.Errorf("search terms: %w", err)
		}
		for rows.Next() {
			var t string
			if err := rows.Scan(&t); err != nil {
				rows.Close()
				return fmt.Errorf("search terms: %w", err)
			}
			if !slices.Contains(terms, t) {
				terms = append(terms, t)
			}
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("search terms: %w", err)
		}
	}
	if len(terms) > maxExpansion {
		return nil
	}
	slices.Sort(terms)
	alts := append([]string{last}, terms...)
	quote := func(t string) string { return `"` + strings.ReplaceAll(t, `"`, `""`) + `"` }
	var parts []string
	for _, t := range b.ftsTerms[:len(b.ftsTerms)-1] {
		parts = append(parts, quote(t))
	}
	or := make([]string, len(alts))
	for i, t := range alts {
		or[i] = quote(t)
	}
	parts = append(parts, "("+strings.Join(or, " OR ")+")")
	b.setFTSArg(strings.Join(parts, " AND "))
	return nil
}
