package cms

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// Slugify turns text into a URL slug: ASCII lowercase letters and digits
// separated by single hyphens, accents removed ("Crème brûlée!" → "creme-brulee").
// It returns "" when nothing usable remains.
func Slugify(s string, maxLen int) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	folded, _, err := transform.String(t, s)
	if err != nil {
		folded = s
	}
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(folded) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
		if b.Len() >= maxLen {
			break
		}
	}
	out := b.String()
	if len(out) > maxLen {
		out = out[:maxLen]
	}
	return strings.Trim(out, "-")
}

// assignSlug decides the entry's slug and records it in raw's slug field. A
// given slug must be free; a missing one is generated from the field's `from`
// source (or the id) and made unique with -2, -3… suffixes. Collections without
// a slug field use the entry id as slug.
func (c *Content) assignSlug(ctx context.Context, tx *sql.Tx, v *ValidationError, col *Collection, id string, raw map[string]any) (string, error) {
	sf := col.slugField()
	if sf == nil {
		var cur string
		err := tx.QueryRowContext(ctx, `SELECT slug FROM entries WHERE id = ?`, id).Scan(&cur)
		if err == nil {
			return cur, nil
		}
		return id, nil
	}
	if s, ok := raw[sf.Name].(string); ok && s != "" {
		taken, err := c.slugTaken(ctx, tx, col.Name, id, s)
		if err != nil {
			return "", err
		}
		if taken {
			v.Add("/data/"+sf.Name, fmt.Sprintf("%q is already used by another entry of this collection", s))
		}
		return s, nil
	}
	base := ""
	if sf.From != "" {
		if src, ok := raw[sf.From].(string); ok {
			base = Slugify(src, maxSlugChars-10)
		}
	}
	if base == "" {
		base = id
	}
	s, err := c.uniqueSlug(ctx, tx, col.Name, id, base)
	if err != nil {
		return "", err
	}
	raw[sf.Name] = s
	return s, nil
}

// slugTaken reports whether another entry uses s as its slug or as the slug it
// is published under.
func (c *Content) slugTaken(ctx context.Context, tx *sql.Tx, collection, id, s string) (bool, error) {
	var one int
	err := c.db.QueryRow(ctx, tx, stmtSlugTaken,
		collection, id, s, s).Scan(&one)
	if err == sql.ErrNoRows {
		return false, nil
	}
	return err == nil, err
}

// uniqueSlug returns base, or base-N with the smallest free N ≥ 2. The exact
// slug is probed first (one index lookup; most slugs are new); on a
// collision every candidate is read in one range query rather than probing
// one at a time.
func (c *Content) uniqueSlug(ctx context.Context, tx *sql.Tx, collection, id, base string) (string, error) {
	if taken, err := c.slugTaken(ctx, tx, collection, id, base); err != nil || !taken {
		return base, err
	}
	// "base-" ≤ s < "base." covers every "base-…" ('.' follows '-' in ASCII).
	rows, err := c.db.Query(ctx, tx, stmtSlugCandidates,
		collection, id, base, base+"-", base+".")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	used := map[string]bool{}
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			return "", err
		}
		used[s.String] = true
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	if !used[base] {
		return base, nil
	}
	for n := 2; ; n++ {
		s := base + "-" + strconv.Itoa(n)
		if !used[s] {
			return s, nil
		}
	}
}

// Statements of the save path, prepared once (storage.NewStatement).
var (
	// "collection = +?", not "= ?": with a bare parameter SQLite checks it
	// against every per-field partial index's "collection = 'name'" term,
	// marks the statement as planned for that value, and prepares it again
	// whenever the parameter is bound anew, that is on every call. The
	// unary plus leaves the (collection, slug) lookups as they were.
	stmtSlugTaken      = withoutPlusHints(storage.NewStatement(`SELECT 1 FROM entries WHERE collection = +? AND id <> ? AND (slug = ? OR published_slug = ?) LIMIT 1`))
	stmtSlugCandidates = withoutPlusHints(storage.NewStatement(`
		SELECT slug FROM entries WHERE collection = +?1 AND id <> ?2 AND (slug = ?3 OR (slug >= ?4 AND slug < ?5))
		UNION
		SELECT published_slug FROM entries WHERE collection = +?1 AND id <> ?2 AND (published_slug = ?3 OR (published_slug >= ?4 AND published_slug < ?5))`))
)

// withoutPlusHints gives s a PostgreSQL text without SQLite's "= +?" hint:
// PostgreSQL has no unary plus on text, and needs no such hint.
func withoutPlusHints(s *storage.Statement) *storage.Statement {
	return s.WithPostgres(noPlusHints(s.Text(storage.SQLite)))
}

func noPlusHints(q string) string { return strings.ReplaceAll(q, "= +?", "= ?") }
