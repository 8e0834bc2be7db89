package cms

import (
	"context"
	"fmt"
)

// maxBatchIDs bounds one IN (...) query; callers with more ids are split.
const maxBatchIDs = 500

// EntriesByID returns the entries of collection with the given ids (working
// data, trashed ones left out), keyed by id, in one query per 500 ids. Ids
// that name no entry are simply absent. It is the batch read behind
// ?expand=, so a page of entries costs one query per referenced collection,
// not one per reference. u must be allowed to read content.
func (c *Content) EntriesByID(ctx context.Context, u *User, collection string, ids []string) (map[string]*Entry, error) {
	if !canRead(u) {
		return nil, forbiddenf("your role may not read content")
	}
	col, err := c.Collection(ctx, collection)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*Entry, len(ids))
	err = inBatches(ids, func(part []string, args []any) error {
		rows, err := c.db.Read().QueryContext(ctx, `SELECT `+entryColumns+` FROM entries WHERE collection = ? AND status <> 'trashed' AND id IN (`+placeholders(len(part))+`)`,
			append([]any{col.Name}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanEntry(rows)
			if err != nil {
				return err
			}
			out[e.ID] = e.present(col)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("entries by id: %w", err)
	}
	return out, nil
}

// PublicEntriesByID is EntriesByID for the public: only a public
// collection's published copies. A private collection gives an empty map (not
// an error), so a public entry pointing into one simply keeps its ids.
func (c *Content) PublicEntriesByID(ctx context.Context, collection string, ids []string) (map[string]*PublicEntry, error) {
	col, err := c.Collection(ctx, collection)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*PublicEntry, len(ids))
	if !col.Options.Public {
		return out, nil
	}
	err = inBatches(ids, func(part []string, args []any) error {
		rows, err := c.db.Read().QueryContext(ctx, `SELECT `+publicColumns+` FROM entries e
			WHERE e.collection = ? AND `+publishedFilter+` AND e.id IN (`+placeholders(len(part))+`)`,
			append([]any{col.Name}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			p, err := scanPublic(col, rows, false)
			if err != nil {
				return err
			}
			out[p.ID] = p
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("public entries by id: %w", err)
	}
	return out, nil
}

// inBatches calls f with ids in slices of at most maxBatchIDs, duplicates
// removed.
func inBatches(ids []string, f func(part []string, args []any) error) error {
	seen := make(map[string]bool, len(ids))
	uniq := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	for len(uniq) > 0 {
		n := min(len(uniq), maxBatchIDs)
		part := uniq[:n]
		uniq = uniq[n:]
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		if err := f(part, args); err != nil {
			return err
		}
	}
	return nil
}
