package cms

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// EntryPage is one page of a list.
type EntryPage struct {
	Items      []*Entry `json:"items"`
	NextCursor string   `json:"nextCursor,omitempty"`
}

var prefixedEntryColumns = "e." + strings.ReplaceAll(entryColumns, ", ", ", e.")

// ListEntries lists a collection's entries (working data) for the admin API.
func (c *Content) ListEntries(ctx context.Context, u *User, collection string, q ListQuery) (*EntryPage, error) {
	if !canRead(u) {
		return nil, forbiddenf("your role may not read content")
	}
	col, err := c.Collection(ctx, collection)
	if err != nil {
		return nil, err
	}
	b, err := buildListOn(c.pg(), col, q, false)
	if err != nil {
		return nil, err
	}
	page := &EntryPage{Items: []*Entry{}}
	page.NextCursor, err = runList(ctx, c.db.Read(), &c.lists, b, prefixedEntryColumns, func(row scanner) error {
		e, err := scanEntry(row)
		if err != nil {
			return err
		}
		page.Items = append(page.Items, e.present(col))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// PublicEntry is an entry as the public API shows it: published data only.
type PublicEntry struct {
	Slug        string         `json:"slug"`
	Data        map[string]any `json:"data"`
	PublishedAt time.Time      `json:"publishedAt"`
	// Meta holds plugin contributions (page:metadata); empty until plugins add them.
	Meta []any `json:"meta"`
	// ID and Version identify the published copy (for caching); not serialised.
	ID      string `json:"-"`
	Version int64  `json:"-"`
	size    int
	// raw is the stored data, encoded as is in place of Data when Data is
	// nil (PublicListRaw): decoding it into maps to encode them again was
	// about half the CPU of a public list.
	raw json.RawMessage
}

// MarshalJSON encodes the entry; an entry from PublicListRaw sends its stored
// data without decoding it.
func (p *PublicEntry) MarshalJSON() ([]byte, error) {
	type plain PublicEntry // the fields, without this method
	if p.Data != nil || p.raw == nil {
		return json.Marshal((*plain)(p))
	}
	// Written out rather than through a struct with a json.RawMessage, which
	// encoding/json would scan and copy once more before the caller's
	// encoder does.
	slug, err := json.Marshal(p.Slug)
	if err != nil {
		return nil, err
	}
	at, err := p.PublishedAt.MarshalJSON()
	if err != nil {
		return nil, err
	}
	meta := []byte("[]")
	if p.Meta == nil {
		meta = []byte("null")
	} else if len(p.Meta) > 0 {
		if meta, err = json.Marshal(p.Meta); err != nil {
			return nil, err
		}
	}
	b := make([]byte, 0, len(p.raw)+len(slug)+len(at)+len(meta)+48)
	b = append(append(b, `{"slug":`...), slug...)
	b = append(append(b, `,"data":`...), p.raw...)
	b = append(append(b, `,"publishedAt":`...), at...)
	b = append(append(b, `,"meta":`...), meta...)
	return append(b, '}'), nil
}

// PublicPage is one page of a public list.
type PublicPage struct {
	Items      []*PublicEntry `json:"items"`
	NextCursor string         `json:"nextCursor,omitempty"`
}

// The public copy: published_data and published_slug are stored only while
// they differ from the working copy; published_version marks a published
// entry (see migration 00036). Every public query selects through these.
const (
	publicColumns   = `e.id, ` + publicSlugExpr + `, ` + publicDataExpr + `, e.published_at, e.published_version`
	publicDataExpr  = `COALESCE(e.published_data, e.data)`
	publicSlugExpr  = `COALESCE(e.published_slug, e.slug)`
	publishedFilter = `e.published_version IS NOT NULL AND e.status <> 'trashed'`
	// publicBySlugSQL finds the entry published under a slug (given twice): its published
	// slug when that differs from its working slug (the partial index
	// entries_published_slug), else its working slug (the (collection,
	// slug) index).
	publicBySlugSQL = `SELECT ` + publicColumns + ` FROM entries e
		WHERE e.collection = +? AND ((e.slug = ? AND e.published_slug IS NULL) OR e.published_slug = ?) AND ` + publishedFilter
)

// scanPublic reads a public row. With keepRaw, and when the stored data can
// hold only active fields (the collection hides none: a key of the stored
// data is an active or a hidden field), the stored JSON is kept as is and
// Data left nil; json.Marshal of a map gives exactly the stored bytes.
func scanPublic(col *Collection, row scanner, keepRaw bool) (*PublicEntry, error) {
	var p PublicEntry
	var data []byte
	var at int64
	if err := row.Scan(&p.ID, &p.Slug, &data, &at, &p.Version); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	p.size = len(data) + len(p.Slug) + len(p.ID) + 128
	p.PublishedAt = time.UnixMilli(at).UTC()
	p.Meta = []any{}
	if keepRaw && len(col.hidden) == 0 && len(data) > 0 && data[0] == '{' {
		p.raw = data
		return &p, nil
	}
	raw, err := decodeObject(data)
	if err != nil {
		return nil, fmt.Errorf("entry %s: stored published data: %w", p.ID, err)
	}
	p.Data = visible(col, raw)
	return &p, nil
}

// PublicEntry returns the published copy of the entry published under slug.
// The result is shared with other callers and must not be modified.
func (c *Content) PublicEntry(ctx context.Context, collection, slug string) (*PublicEntry, error) {
	col, err := c.publicCollection(ctx, collection)
	if err != nil {
		return nil, err
	}
	key := cacheKey(col.Name, slug)
	cached, gen := c.public.get(key)
	if cached != nil {
		return cached, nil
	}
	stmt, err := c.publicBySlugStmt(ctx)
	if err != nil {
		return nil, err
	}
	p, err := scanPublic(col, stmt.QueryRowContext(ctx, col.Name, slug, slug), false)
	if errors.Is(err, ErrNotFound) {
		return nil, notFoundf("collection %q has no published entry %q", collection, slug)
	}
	if err != nil {
		return nil, fmt.Errorf("public entry: %w", err)
	}
	c.public.put(key, p, gen, p.size)
	return p, nil
}

// publicCollection is the named collection if it is public. A private one is
// ErrNotFound, the same answer as for a missing one, so the public API does
// not reveal which private collections exist.
func (c *Content) publicCollection(ctx context.Context, name string) (*Collection, error) {
	col, err := c.Collection(ctx, name)
	if err != nil {
		return nil, err
	}
	if !col.Options.Public {
		return nil, notFoundf("there is no collection %q", name)
	}
	return col, nil
}

// publicBySlugStmt is the hottest query of the site, prepared once: planning
// it costs more than running it. "collection = +?" keeps it prepared: see
// stmtSlugTaken.
func (c *Content) publicBySlugStmt(ctx context.Context) (*sql.Stmt, error) {
	c.stmtMu.Lock()
	defer c.stmtMu.Unlock()
	if c.bySlug != nil {
		return c.bySlug, nil
	}
	q := publicBySlugSQL
	if c.pg() {
		q = noPlusHints(q)
	}
	stmt, err := c.db.Read().PrepareContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("prepare public entry query: %w", err)
	}
	c.bySlug = stmt
	return stmt, nil
}

// PublicList lists a collection's published entries (published data only).
func (c *Content) PublicList(ctx context.Context, collection string, q ListQuery) (*PublicPage, error) {
	return c.publicList(ctx, collection, q, false)
}

// PublicListRaw is PublicList for a caller that only encodes the page: an
// item's Data may be nil, its stored JSON then encoded as it is
// (PublicEntry.MarshalJSON).
func (c *Content) PublicListRaw(ctx context.Context, collection string, q ListQuery) (*PublicPage, error) {
	return c.publicList(ctx, collection, q, true)
}

func (c *Content) publicList(ctx context.Context, collection string, q ListQuery, keepRaw bool) (*PublicPage, error) {
	col, err := c.publicCollection(ctx, collection)
	if err != nil {
		return nil, err
	}
	b, err := buildListOn(c.pg(), col, q, true)
	if err != nil {
		return nil, err
	}
	page := &PublicPage{Items: []*PublicEntry{}}
	page.NextCursor, err = runList(ctx, c.db.Read(), &c.lists, b, publicColumns, func(row scanner) error {
		p, err := scanPublic(col, row, keepRaw)
		if err != nil {
			return err
		}
		page.Items = append(page.Items, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// EntryRef names an entry.
type EntryRef struct {
	Collection string `json:"collection"`
	ID         string `json:"id"`
	Slug       string `json:"slug"`
}

// MediaReferences lists the entries (any status, trashed included, working or
// published data) whose media fields hold mediaID. The media service refuses
// to delete a media item while this is not empty.
func (c *Content) MediaReferences(ctx context.Context, mediaID string) ([]EntryRef, error) {
	cols, err := c.ListCollections(ctx)
	if err != nil {
		return nil, err
	}
	refs := []EntryRef{}
	seen := map[string]bool{}
	for _, col := range cols {
		for _, f := range append(append([]*Field{}, col.Fields...), col.hidden...) {
			if f.Type != TypeMedia {
				continue
			}
			rows, err := c.db.Read().QueryContext(ctx, mediaRefsQuery(c.pg(), col.Name, f), mediaID)
			if err != nil {
				return nil, fmt.Errorf("media references: %w", err)
			}
			for rows.Next() {
				r := EntryRef{Collection: col.Name}
				if err := rows.Scan(&r.ID, &r.Slug); err != nil {
					rows.Close()
					return nil, fmt.Errorf("media references: %w", err)
				}
				if !seen[r.ID] {
					seen[r.ID] = true
					refs = append(refs, r)
				}
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return nil, fmt.Errorf("media references: %w", err)
			}
		}
	}
	return refs, nil
}
