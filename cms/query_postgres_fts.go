package cms

// Full-text search on PostgreSQL: one tsvector per entry and copy
// (entries_fts, entries_pub_fts: seq, body) with a GIN index, the
// counterpart of query_sqlite_fts.go's FTS5 tables.

import (
	"context"
	"database/sql"
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
