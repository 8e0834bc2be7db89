package cms

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// mutate runs a status change on one entry in a write transaction, after the
// permission and version checks every such change shares. expect 0 means any
// version. The entry is reloaded after fn.
func (c *Content) mutate(ctx context.Context, u *User, collection, id string, expect int64, needPublish bool,
	fn func(tx *sql.Tx, col *Collection, e *Entry, now int64) error) (*Entry, error) {
	col, err := c.Collection(ctx, collection)
	if err != nil {
		return nil, err
	}
	var out *Entry
	err = c.db.Tx(ctx, func(tx *sql.Tx) error {
		e, err := c.loadEntry(ctx, tx, col, id)
		if err != nil {
			return err
		}
		if !canEdit(u, e) {
			return forbiddenf("you may change only the entries you wrote; this one is someone else's")
		}
		if needPublish && u != nil && !u.Can(PermPublish) {
			return forbiddenf("your role may not publish or unpublish entries")
		}
		if expect != 0 && e.Version != expect {
			return &StaleVersionError{Current: e.Version}
		}
		if err := fn(tx, col, e, c.nowMs()); err != nil {
			return err
		}
		// Every status change can change what the public sees.
		if err := c.db.Bump(ctx, tx, storage.TopicEntries); err != nil {
			return err
		}
		out, err = c.loadEntry(ctx, tx, col, id)
		if errors.Is(err, ErrNotFound) {
			out = e // purged
			return nil
		}
		return err
	})
	if err != nil {
		return nil, c.wrapWriteErr("change entry", err)
	}
	return out.present(col), nil
}

// Publish makes the entry's working data public now, or schedules that for at
// when at is in the future. Publishing clears any schedule.
func (c *Content) Publish(ctx context.Context, u *User, collection, id string, at *time.Time, expect int64) (*Entry, error) {
	return c.mutate(ctx, u, collection, id, expect, true, func(tx *sql.Tx, col *Collection, e *Entry, now int64) error {
		if e.Status == StatusTrashed {
			return conflictf("the entry is in the trash; restore it first")
		}
		if at != nil && at.UnixMilli() > now {
			if !col.Options.Scheduling {
				return &ValidationError{Errors: []FieldError{{"/at", fmt.Sprintf("collection %q does not allow scheduling", col.Name)}}}
			}
			status := StatusScheduled
			if e.published {
				status = StatusPublished // stays public; the draft goes live at `at`
			}
			if _, err := tx.ExecContext(ctx, `UPDATE entries SET scheduled_at = ?, status = ?, version = version + 1 WHERE id = ?`,
				at.UnixMilli(), string(status), id); err != nil {
				return err
			}
			if err := c.db.Wake(ctx, tx, storage.TopicSchedule); err != nil {
				return err
			}
			return c.keepStatusRevision(ctx, tx, col, id,
				revisionMark{ActionScheduled, "schedule for " + at.UTC().Format(time.RFC3339)}, u)
		}
		return c.publishNow(ctx, tx, col, u, e, now)
	})
}

// publishNow publishes the working data of e (as read in tx) and runs
// afterPublish in tx.
func (c *Content) publishNow(ctx context.Context, tx *sql.Tx, col *Collection, u *User, e *Entry, now int64) error {
	id := e.ID
	if err := c.publishTx(ctx, tx, col, id, now, true); err != nil {
		return err
	}
	if err := c.keepStatusRevision(ctx, tx, col, id, revisionMark{ActionPublished, "publish"}, u); err != nil {
		return err
	}
	pub, err := c.loadEntry(ctx, tx, col, id)
	if err != nil {
		return err
	}
	if err := c.syncSearch(ctx, tx, col, e, pub); err != nil {
		return err
	}
	return c.hooksImpl().AfterPublish(ctx, tx, EntryEvent{Entry: pub.present(col), UserID: userID(u)})
}

// publishTx copies the working data to the public copy. bump says whether this
// is a write of its own (a new version) or part of a save that already bumped.
// The caller brings the search tables along (syncSearch): the public copy
// is now the working copy.
func (c *Content) publishTx(ctx context.Context, tx *sql.Tx, col *Collection, id string, now int64, bump bool) error {
	inc := 0
	if bump {
		inc = 1
	}
	// The public copy becomes the working copy: NULL published_data and
	// published_slug say so without storing them twice.
	if _, err := tx.ExecContext(ctx, `UPDATE entries SET published_data = NULL, published_slug = NULL,
		published_version = version + ?, published_at = ?, scheduled_at = NULL, status = 'published', version = version + ?
		WHERE id = ?`, inc, now, inc, id); err != nil {
		return err
	}
	return nil
}

// The search tables hold each text once (see ftsSources): entries_pub_fts
// the public text of every published entry, entries_fts the working text of
// the entries whose working copy is not their public one (not published, or
// a public copy stored apart: published_data NOT NULL). Every write that
// publishes, unpublishes, stores or drops a separate public copy, or changes
// the working data, keeps both so.

// searchRows are the texts an entry has in the two search tables ("" and
// false where it has no row): e nil is an entry that does not exist.
func searchRows(col *Collection, e *Entry) (work string, inWork bool, pub string, inPub bool, err error) {
	if e == nil {
		return "", false, "", false, nil
	}
	if e.published {
		inPub = true
		if e.pubJSON.Valid {
			raw, err := decodeObject([]byte(e.pubJSON.String))
			if err != nil {
				return "", false, "", false, fmt.Errorf("entry %s: stored public data: %w", e.ID, err)
			}
			pub = searchText(col, raw)
		} else {
			pub = searchText(col, e.raw)
		}
	}
	if !e.published || e.pubJSON.Valid {
		inWork, work = true, searchText(col, e.raw)
	}
	return work, inWork, pub, inPub, nil
}

// syncSearch brings an entry's rows in both search tables from what they
// hold for before (as it was read in this transaction; nil: a new entry) to
// what after needs (nil: purged), writing only the rows that change: a
// draft edit leaves the public row, a trash or restore leaves both.
func (c *Content) syncSearch(ctx context.Context, tx *sql.Tx, col *Collection, before, after *Entry) error {
	w0, hasW0, p0, hasP0, err := searchRows(col, before)
	if err != nil {
		return err
	}
	w1, hasW1, p1, hasP1, err := searchRows(col, after)
	if err != nil {
		return err
	}
	seq := before.seqOr(after)
	for _, t := range []struct {
		table            string
		had, has         bool
		oldText, newText string
	}{{"entries_fts", hasW0, hasW1, w0, w1}, {"entries_pub_fts", hasP0, hasP1, p0, p1}} {
		var err error
		switch {
		case t.has && !t.had:
			err = c.indexNewText(ctx, tx, t.table, seq, t.newText)
		case t.has && t.oldText != t.newText:
			err = c.indexText(ctx, tx, t.table, seq, t.newText)
		case !t.has && t.had && t.oldText != "":
			// An empty text has no row to delete.
			err = c.indexText(ctx, tx, t.table, seq, "")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// seqOr is e's seq, or other's when e is nil.
func (e *Entry) seqOr(other *Entry) int64 {
	if e != nil {
		return e.seq
	}
	return other.seq
}

// Unpublish withdraws the entry from the public and cancels any schedule.
func (c *Content) Unpublish(ctx context.Context, u *User, collection, id string, expect int64) (*Entry, error) {
	return c.mutate(ctx, u, collection, id, expect, true, func(tx *sql.Tx, col *Collection, e *Entry, now int64) error {
		if e.Status == StatusTrashed {
			return conflictf("the entry is in the trash; restore it first")
		}
		if !e.published && e.ScheduledAt == nil {
			return conflictf("the entry is not published")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE entries SET published_data = NULL, published_slug = NULL, published_version = NULL,
			published_at = NULL, scheduled_at = NULL, status = 'draft', version = version + 1 WHERE id = ?`, id); err != nil {
			return err
		}
		after, err := c.loadEntry(ctx, tx, col, id)
		if err != nil {
			return err
		}
		if err := c.syncSearch(ctx, tx, col, e, after); err != nil {
			return err
		}
		note := "unpublish"
		if !e.published {
			note = "cancel the schedule"
		}
		if err := c.keepStatusRevision(ctx, tx, col, id, revisionMark{ActionUnpublished, note}, u); err != nil {
			return err
		}
		if !e.published {
			return nil // only a schedule was cancelled
		}
		return c.hooksImpl().AfterUnpublish(ctx, tx, EntryEvent{Entry: after.present(col), UserID: userID(u)})
	})
}

// beforeDelete asks the hooks whether the entry may be trashed or purged.
func (c *Content) beforeDelete(ctx context.Context, u *User, collection, id string, purge bool) error {
	e, err := c.GetEntry(ctx, nil, collection, id)
	if err != nil {
		return err
	}
	if !canEdit(u, e) {
		return forbiddenf("you may change only the entries you wrote; this one is someone else's")
	}
	err = c.hooksImpl().BeforeDelete(ctx, DeleteEvent{Entry: e, Purge: purge, UserID: userID(u)})
	var hr *HookRejection
	if err != nil && !errors.As(err, &hr) {
		return fmt.Errorf("beforeDelete hook: %w", err)
	}
	return err
}

// Trash moves an entry to the trash: it leaves the public site and lists, and
// keeps everything (data, revisions, slug) for Restore. Trashing a trashed
// entry changes nothing.
func (c *Content) Trash(ctx context.Context, u *User, collection, id string, expect int64) (*Entry, error) {
	if err := c.beforeDelete(ctx, u, collection, id, false); err != nil {
		return nil, err
	}
	return c.mutate(ctx, u, collection, id, expect, false, func(tx *sql.Tx, col *Collection, e *Entry, now int64) error {
		if e.Status == StatusTrashed {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE entries SET status = 'trashed', trashed_at = ?, version = version + 1 WHERE id = ?`, now, id); err != nil {
			return err
		}
		after, err := c.loadEntry(ctx, tx, col, id)
		if err != nil {
			return err
		}
		return c.hooksImpl().AfterDelete(ctx, tx, DeleteEvent{Entry: after.present(col), UserID: userID(u)})
	})
}

// Restore takes an entry out of the trash, back to the state it had: published
// if it has a public copy, scheduled if it has a schedule, draft otherwise.
func (c *Content) Restore(ctx context.Context, u *User, collection, id string, expect int64) (*Entry, error) {
	return c.mutate(ctx, u, collection, id, expect, false, func(tx *sql.Tx, col *Collection, e *Entry, now int64) error {
		if e.Status != StatusTrashed {
			return conflictf("the entry is not in the trash")
		}
		status := StatusDraft
		switch {
		case e.published:
			status = StatusPublished
		case e.ScheduledAt != nil:
			status = StatusScheduled
		}
		if _, err := tx.ExecContext(ctx, `UPDATE entries SET status = ?, trashed_at = NULL, version = version + 1 WHERE id = ?`, string(status), id); err != nil {
			return err
		}
		if status == StatusScheduled {
			return c.db.Wake(ctx, tx, storage.TopicSchedule)
		}
		return nil
	})
}

// Purge deletes an entry for good, with its revisions, from any state.
// References to it from other entries are left as they are; those entries
// must drop or change them at their next save.
func (c *Content) Purge(ctx context.Context, u *User, collection, id string, expect int64) error {
	if err := c.beforeDelete(ctx, u, collection, id, true); err != nil {
		return err
	}
	_, err := c.mutate(ctx, u, collection, id, expect, false, func(tx *sql.Tx, col *Collection, e *Entry, now int64) error {
		if err := c.syncSearch(ctx, tx, col, e, nil); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM entries WHERE id = ?`, id); err != nil {
			return err
		}
		return c.hooksImpl().AfterDelete(ctx, tx, DeleteEvent{Entry: e.present(col), Purge: true, UserID: userID(u)})
	})
	return err
}
