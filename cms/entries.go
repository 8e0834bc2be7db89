package cms

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// Status is an entry's place in its lifecycle.
type Status string

const (
	StatusDraft     Status = "draft"
	StatusScheduled Status = "scheduled"
	StatusPublished Status = "published"
	StatusTrashed   Status = "trashed"
)

func (s Status) valid() bool {
	return s == StatusDraft || s == StatusScheduled || s == StatusPublished || s == StatusTrashed
}

// Entry is one item of a collection. Data is the working copy; when the entry
// is published and HasDraft is true, the public still sees the data as it was
// when last published.
type Entry struct {
	ID          string         `json:"id"`
	Collection  string         `json:"collection"`
	Slug        string         `json:"slug"`
	Status      Status         `json:"status"`
	Version     int64          `json:"version"`
	Data        map[string]any `json:"data"`
	CreatedAt   time.Time      `json:"createdAt"`
	UpdatedAt   time.Time      `json:"updatedAt"`
	PublishedAt *time.Time     `json:"publishedAt"`
	ScheduledAt *time.Time     `json:"scheduledAt,omitempty"`
	TrashedAt   *time.Time     `json:"trashedAt,omitempty"`
	AuthorID    string         `json:"authorId,omitempty"`
	// HasDraft: the entry is published and its working data differs from
	// what the public sees.
	HasDraft bool `json:"hasDraft"`

	seq     int64
	raw     map[string]any // every stored value, hidden fields included
	rawJSON string
	// published: the entry has a public copy (published_version is set).
	// pubJSON is that copy's data only when it differs from the working
	// copy; NULL means "the same as data" (see migration 00036).
	published     bool
	pubJSON       sql.NullString
	publishedSlug sql.NullString
}

// StaleVersionError says a write named a version that is no longer current.
// errors.Is(err, ErrConflict) holds.
type StaleVersionError struct{ Current int64 }

func (e *StaleVersionError) Error() string {
	return fmt.Sprintf("the entry was changed by someone else: its current version is %d; reload it and apply your change again", e.Current)
}
func (e *StaleVersionError) Unwrap() error { return ErrConflict }

// errRetry asks a save to start over with fresh state: the collection changed or
// (for callers that gave no version) the entry changed under a merge.
var errRetry = errors.New("retry")

const maxRetries = 5

const entryColumns = `seq, id, collection, slug, status, version, data, published_data, published_slug, published_version, author_id, created_at, updated_at, published_at, scheduled_at, trashed_at`

func scanEntry(row interface{ Scan(...any) error }) (*Entry, error) {
	var e Entry
	var status string
	var author sql.NullString
	var created, updated int64
	var pubVersion, published, scheduled, trashed sql.NullInt64
	if err := row.Scan(&e.seq, &e.ID, &e.Collection, &e.Slug, &status, &e.Version, &e.rawJSON, &e.pubJSON,
		&e.publishedSlug, &pubVersion, &author, &created, &updated, &published, &scheduled, &trashed); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	raw, err := decodeObject([]byte(e.rawJSON))
	if err != nil {
		return nil, fmt.Errorf("entry %s: stored data: %w", e.ID, err)
	}
	e.raw = raw
	e.Status = Status(status)
	e.AuthorID = author.String
	e.CreatedAt = time.UnixMilli(created).UTC()
	e.UpdatedAt = time.UnixMilli(updated).UTC()
	e.PublishedAt = msPtr(published)
	e.ScheduledAt = msPtr(scheduled)
	e.TrashedAt = msPtr(trashed)
	e.published = pubVersion.Valid
	e.HasDraft = e.published && e.pubJSON.Valid && e.pubJSON.String != e.rawJSON
	return &e, nil
}

func msPtr(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := time.UnixMilli(n.Int64).UTC()
	return &t
}

// decodeObject decodes a JSON object keeping numbers exact.
func decodeObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	m := map[string]any{}
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

func decodeJSONValue(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// visible limits stored values to the collection's active fields.
func visible(col *Collection, raw map[string]any) map[string]any {
	out := make(map[string]any, len(col.Fields))
	for _, f := range col.Fields {
		if v, ok := raw[f.Name]; ok {
			out[f.Name] = v
		}
	}
	return out
}

func (e *Entry) present(col *Collection) *Entry {
	e.Data = visible(col, e.raw)
	return e
}

func canRead(u *User) bool { return u == nil || u.Can(PermReadContent) }

// canEdit: nil is the system (scheduler, plugins acting with their grants).
// CanEditEntry reports whether u may change e (save, publish, trash,
// restore a revision): what every write checks, for a UI to offer only the
// actions that will work. A nil user is the system, which may.
func CanEditEntry(u *User, e *Entry) bool { return canEdit(u, e) }

func canEdit(u *User, e *Entry) bool {
	if u == nil || u.Can(PermEditAllContent) {
		return true
	}
	return u.Can(PermEditOwnContent) && e.AuthorID == u.ID
}

func userID(u *User) string {
	if u == nil {
		return ""
	}
	return u.ID
}

func (c *Content) loadEntry(ctx context.Context, q querier, col *Collection, id string) (*Entry, error) {
	e, err := scanEntry(q.QueryRowContext(ctx, loadEntrySQL, id, col.Name))
	return loadedEntry(e, err, col, id)
}

// loadEntryTx is loadEntry inside a write transaction, with the statement
// prepared once.
func (c *Content) loadEntryTx(ctx context.Context, tx *sql.Tx, col *Collection, id string) (*Entry, error) {
	e, err := scanEntry(c.db.QueryRow(ctx, tx, stmtLoadEntry, id, col.Name))
	return loadedEntry(e, err, col, id)
}

const loadEntrySQL = `SELECT ` + entryColumns + ` FROM entries WHERE id = ? AND collection = ?`

var stmtLoadEntry = storage.NewStatement(loadEntrySQL)

func loadedEntry(e *Entry, err error, col *Collection, id string) (*Entry, error) {
	if errors.Is(err, ErrNotFound) {
		return nil, notFoundf("collection %q has no entry %q", col.Name, id)
	}
	if err != nil {
		return nil, fmt.Errorf("load entry: %w", err)
	}
	return e, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// GetEntry returns one entry (trashed ones included) with its working data.
func (c *Content) GetEntry(ctx context.Context, u *User, collection, id string) (*Entry, error) {
	if !canRead(u) {
		return nil, forbiddenf("your role may not read content")
	}
	col, err := c.Collection(ctx, collection)
	if err != nil {
		return nil, err
	}
	e, err := c.loadEntry(ctx, c.db.Read(), col, id)
	if err != nil {
		return nil, err
	}
	return e.present(col), nil
}

// applyInput validates client values into raw, reporting problems under /data.
// A null value clears the field.
func applyInput(v *ValidationError, col *Collection, raw, in map[string]any, prefix string) {
	for _, k := range slices.Sorted(maps.Keys(in)) {
		val := in[k]
		f := col.Field(k)
		path := "/data/" + jsonPointerEscape(k)
		if f == nil {
			v.Add(path, prefix+fmt.Sprintf("is not a field of collection %q", col.Name))
			continue
		}
		if val == nil {
			delete(raw, k)
			continue
		}
		norm, probs := f.normalize(val)
		for _, p := range probs {
			v.Add(path, prefix+p)
		}
		if len(probs) == 0 {
			raw[k] = norm
		}
	}
}

func applyDefaults(col *Collection, raw map[string]any) {
	for _, f := range col.Fields {
		if _, ok := raw[f.Name]; !ok && f.Default != nil {
			raw[f.Name] = f.Default
		}
	}
}

func checkRequired(v *ValidationError, col *Collection, raw map[string]any, prefix string) {
	for _, f := range col.Fields {
		if !f.Required || f.Type == TypeSlug {
			continue // slugs are generated when missing
		}
		switch x := raw[f.Name].(type) {
		case nil:
			v.Add("/data/"+f.Name, prefix+"is required")
		case string:
			if x == "" {
				v.Add("/data/"+f.Name, prefix+"is required")
			}
		case []any:
			if len(x) == 0 {
				v.Add("/data/"+f.Name, prefix+"is required")
			}
		}
	}
}

// beforeSave runs the BeforeSave hook and re-validates any data it returns.
func (c *Content) beforeSave(ctx context.Context, col *Collection, id string, isNew bool, raw map[string]any, u *User) (map[string]any, error) {
	out, err := c.hooksImpl().BeforeSave(ctx, SaveEvent{Collection: col.Name, ID: id, IsNew: isNew, Data: visible(col, raw), UserID: userID(u)})
	if err != nil {
		var hr *HookRejection
		if errors.As(err, &hr) {
			return nil, err
		}
		return nil, fmt.Errorf("beforeSave hook: %w", err)
	}
	if out == nil {
		return raw, nil
	}
	// Hidden values are not the hook's to change; active ones come from the hook.
	next := map[string]any{}
	for k, val := range raw {
		if col.Field(k) == nil {
			next[k] = val
		}
	}
	var v ValidationError
	const prefix = "after a beforeSave hook changed the data: "
	applyInput(&v, col, next, out, prefix)
	checkRequired(&v, col, next, prefix)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return next, nil
}

// CreateEntry adds a draft entry to a collection; u becomes its author.
func (c *Content) CreateEntry(ctx context.Context, u *User, collection string, data map[string]any) (*Entry, error) {
	if u != nil && !u.Can(PermEditOwnContent) {
		return nil, forbiddenf("your role may not create entries")
	}
	id := uuid.Must(uuid.NewV7()).String()
	for attempt := 0; ; attempt++ {
		col, err := c.Collection(ctx, collection)
		if err != nil {
			return nil, err
		}
		var v ValidationError
		raw := map[string]any{}
		applyInput(&v, col, raw, data, "")
		applyDefaults(col, raw)
		checkRequired(&v, col, raw, "")
		if err := c.staticErr(ctx, &v, col, id, raw); err != nil {
			return nil, err
		}
		raw, err = c.beforeSave(ctx, col, id, true, raw, u)
		if err != nil {
			return nil, err
		}
		e, err := c.insertEntry(ctx, col, id, raw, u)
		if errors.Is(err, errRetry) && attempt < maxRetries {
			c.forget(collection)
			continue
		}
		return e, err
	}
}

func (c *Content) insertEntry(ctx context.Context, col *Collection, id string, input map[string]any, u *User) (*Entry, error) {
	var e *Entry
	err := c.entryTx(ctx, func(tx *sql.Tx) error {
		raw := maps.Clone(input) // assignSlug writes the slug; a run again starts afresh
		if err := c.checkCollectionCurrent(ctx, tx, col); err != nil {
			return err
		}
		var v ValidationError
		slug, err := c.assignSlug(ctx, tx, &v, col, id, raw)
		if err != nil {
			return err
		}
		if err := c.checkValues(ctx, tx, &v, col, id, raw); err != nil {
			return err
		}
		if err := v.Err(); err != nil {
			return err
		}
		data, err := json.Marshal(raw)
		if err != nil {
			return err
		}
		now := c.nowMs()
		var author any
		if u != nil {
			author = u.ID
		}
		var seq int64
		if c.pg() {
			// pgx has no LastInsertId; RETURNING costs PostgreSQL no
			// temporary file, unlike SQLite.
			err = c.db.QueryRow(ctx, tx, stmtInsertEntryReturning, id, col.Name, slug, string(data), author, now, now).Scan(&seq)
		} else {
			// Not INSERT … RETURNING: SQLite buffers the returned row through
			// a statement journal in a temporary file, opened, written and
			// closed on every create (≈ 15% of its CPU).
			var res sql.Result
			res, err = c.db.Exec(ctx, tx, stmtInsertEntry, id, col.Name, slug, string(data), author, now, now)
			if err == nil {
				seq, err = res.LastInsertId()
			}
		}
		if err != nil {
			return err
		}
		// The row is what was just written; reading it back would cost a
		// query. raw is decoded from the stored text, as a load would.
		stored, err := decodeObject(data)
		if err != nil {
			return err
		}
		e = &Entry{ID: id, Collection: col.Name, Slug: slug, Status: StatusDraft, Version: 1,
			CreatedAt: time.UnixMilli(now).UTC(), UpdatedAt: time.UnixMilli(now).UTC(), AuthorID: userID(u),
			seq: seq, raw: stored, rawJSON: string(data)}
		if err := c.keepRevision(ctx, tx, col, e, revisionMark{ActionCreated, "create"}, u); err != nil {
			return err
		}
		if err := c.indexNewText(ctx, tx, "entries_fts", seq, searchText(col, e.raw)); err != nil {
			return err
		}
		return c.hooksImpl().AfterSave(ctx, tx, EntryEvent{Entry: e.present(col), UserID: userID(u)})
	})
	if err != nil {
		return nil, c.wrapWriteErr("create entry", err)
	}
	return e.present(col), nil
}

// entryTx runs fn, an entry save, in a transaction. On PostgreSQL it runs
// it again when a write hit a unique constraint (a slug) on a row that a
// concurrent save committed after fn looked: PostgreSQL reports that as a
// unique violation, not as the serialization conflict storage.DB.Tx runs
// again, and the failed statement ends the transaction. In the fresh run
// fn's own look (slugTaken, uniqueHolder) sees the other entry and picks
// the next free slug or refuses the value as a sequential save would. On
// SQLite the single writer makes the look and the write one step, so a
// unique violation is a real error there.
func (c *Content) entryTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := c.db.Tx(ctx, fn)
		if attempt < 20 && c.pg() && storage.IsUniqueViolation(err) {
			continue
		}
		return err
	}
}

// wrapWriteErr keeps domain errors testable and wraps the rest with context.
func (c *Content) wrapWriteErr(op string, err error) error {
	var ve *ValidationError
	var hr *HookRejection
	var se *StaleVersionError
	if errors.As(err, &ve) || errors.As(err, &hr) || errors.As(err, &se) || errors.Is(err, errRetry) ||
		errors.Is(err, ErrNotFound) || errors.Is(err, ErrForbidden) || errors.Is(err, ErrConflict) {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}

// afterWrite keeps a revision after a data save and brings the search
// tables from what they held for cur to e (syncSearch).
func (c *Content) afterWrite(ctx context.Context, tx *sql.Tx, col *Collection, cur, e *Entry, mark revisionMark, u *User) error {
	if err := c.keepRevision(ctx, tx, col, e, mark, u); err != nil {
		return err
	}
	return c.syncSearch(ctx, tx, col, cur, e)
}

// UpdateEntry merges data into an entry's working copy: keys present replace
// their field's value, null clears it, absent keys are kept. expect is the
// version the caller last saw; 0 means "any" (system callers), in which case a
// concurrent change makes the merge start over rather than overwrite it.
func (c *Content) UpdateEntry(ctx context.Context, u *User, collection, id string, data map[string]any, expect int64) (*Entry, error) {
	return c.update(ctx, u, collection, id, expect, revisionMark{ActionEdited, "update"}, func(col *Collection, cur *Entry) (map[string]any, error) {
		var v ValidationError
		raw := maps.Clone(cur.raw)
		applyInput(&v, col, raw, data, "")
		checkRequired(&v, col, raw, "")
		if err := c.staticErr(ctx, &v, col, id, raw); err != nil {
			return nil, err
		}
		return raw, nil
	})
}

// update is the one path of every change to an existing entry's data: it
// loads the entry, checks the caller may edit it and the version they saw,
// lets build derive the new data from the current entry, runs the beforeSave
// hooks and writes. When a concurrent change lands in between and the caller
// gave no version, it starts over on the new state instead of overwriting it.
func (c *Content) update(ctx context.Context, u *User, collection, id string, expect int64, mark revisionMark,
	build func(col *Collection, cur *Entry) (map[string]any, error)) (*Entry, error) {
	for attempt := 0; ; attempt++ {
		col, err := c.Collection(ctx, collection)
		if err != nil {
			return nil, err
		}
		cur, err := c.loadEntry(ctx, c.db.Read(), col, id)
		if err != nil {
			return nil, err
		}
		if !canEdit(u, cur) {
			return nil, forbiddenf("you may change only the entries you wrote; this one is someone else's")
		}
		if expect != 0 && cur.Version != expect {
			return nil, &StaleVersionError{Current: cur.Version}
		}
		if cur.Status == StatusTrashed {
			return nil, conflictf("the entry is in the trash; restore it first")
		}
		raw, err := build(col, cur)
		if err != nil {
			return nil, err
		}
		raw, err = c.beforeSave(ctx, col, id, false, raw, u)
		if err != nil {
			return nil, err
		}
		e, err := c.writeUpdate(ctx, col, cur, raw, u, expect, mark)
		if errors.Is(err, errRetry) && attempt < maxRetries {
			c.forget(collection)
			continue
		}
		return e, err
	}
}

func (c *Content) writeUpdate(ctx context.Context, col *Collection, cur *Entry, input map[string]any, u *User, expect int64, mark revisionMark) (*Entry, error) {
	var e *Entry
	err := c.entryTx(ctx, func(tx *sql.Tx) error {
		raw := maps.Clone(input) // assignSlug writes the slug; a run again starts afresh
		if err := c.checkCollectionCurrent(ctx, tx, col); err != nil {
			return err
		}
		var version int64
		var status string
		if err := tx.QueryRowContext(ctx, `SELECT version, status FROM entries WHERE id = ?`, cur.ID).Scan(&version, &status); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return notFoundf("there is no entry %q", cur.ID)
			}
			return err
		}
		if version != cur.Version {
			if expect != 0 {
				return &StaleVersionError{Current: version}
			}
			return errRetry
		}
		var v ValidationError
		slug, err := c.assignSlug(ctx, tx, &v, col, cur.ID, raw)
		if err != nil {
			return err
		}
		if err := c.checkValues(ctx, tx, &v, col, cur.ID, raw); err != nil {
			return err
		}
		if err := v.Err(); err != nil {
			return err
		}
		data, err := json.Marshal(raw)
		if err != nil {
			return err
		}
		now := c.nowMs()
		if _, err := c.db.Exec(ctx, tx, stmtUpdateEntry, string(data), slug, string(data), slug, now, cur.ID); err != nil {
			return err
		}
		// Without drafts, saving a published entry republishes it at once.
		republish := !col.Options.Drafts && cur.published
		if republish {
			if err := c.publishTx(ctx, tx, col, cur.ID, now, false); err != nil {
				return err
			}
		}
		if e, err = c.loadEntryTx(ctx, tx, col, cur.ID); err != nil {
			return err
		}
		if err := c.afterWrite(ctx, tx, col, cur, e, mark, u); err != nil {
			return err
		}
		if err := c.hooksImpl().AfterSave(ctx, tx, EntryEvent{Entry: e.present(col), UserID: userID(u)}); err != nil {
			return err
		}
		if republish {
			if err := c.db.Bump(ctx, tx, storage.TopicEntries); err != nil {
				return err
			}
			return c.hooksImpl().AfterPublish(ctx, tx, EntryEvent{Entry: e, UserID: userID(u)})
		}
		return nil
	})
	if err != nil {
		return nil, c.wrapWriteErr("update entry", err)
	}
	return e.present(col), nil
}

// staticErr returns the input's problems, if any, together with those only the
// database can find (uniqueness, references), so a client sees every problem at
// once. Without static problems the database checks run later, in the write.
func (c *Content) staticErr(ctx context.Context, v *ValidationError, col *Collection, id string, raw map[string]any) error {
	if v.Err() == nil {
		return nil
	}
	if err := c.checkValues(ctx, c.db.Read(), v, col, id, raw); err != nil {
		return err
	}
	return v.Err()
}

// checkCollectionCurrent makes a save validated against a cached definition
// start over when the collection changed meanwhile.
func (c *Content) checkCollectionCurrent(ctx context.Context, tx *sql.Tx, col *Collection) error {
	var updated int64
	err := c.db.QueryRow(ctx, tx, stmtCollectionUpdated, col.Name).Scan(&updated)
	if errors.Is(err, sql.ErrNoRows) {
		return notFoundf("there is no collection %q", col.Name)
	}
	if err != nil {
		return err
	}
	if updated != col.UpdatedAt.UnixMilli() {
		return errRetry
	}
	return nil
}

// checkValues enforces what needs the database: unique fields and that
// references and media exist.
func (c *Content) checkValues(ctx context.Context, tx querier, v *ValidationError, col *Collection, id string, raw map[string]any) error {
	for _, f := range col.Fields {
		val, ok := raw[f.Name]
		if !ok || val == nil {
			continue
		}
		path := "/data/" + f.Name
		if f.Unique {
			other, err := uniqueHolder(ctx, tx, c.pg(), col.Name, f, id, sqlValue(val))
			if err != nil {
				return err
			}
			if other != "" {
				v.Add(path, fmt.Sprintf("must be unique: entry %s already has this value", other))
			}
		}
		switch f.Type {
		case TypeReference:
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM entries WHERE id = ? AND collection = ?`, val, f.Collection).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				v.Add(path, fmt.Sprintf("names no entry of collection %q", f.Collection))
			} else if err != nil {
				return err
			}
		case TypeMedia:
			if c.media != nil {
				ok, err := c.media.MediaExists(ctx, val.(string))
				if err != nil {
					return err
				}
				if !ok {
					v.Add(path, "names no media item")
				}
			}
		}
	}
	return nil
}

// sqlValue turns a stored value into a driver argument comparable with what
// json_extract returns.
func sqlValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case bool:
		if x {
			return int64(1)
		}
		return int64(0)
	}
	return v
}

func jsonPointerEscape(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '~':
			b = append(b, '~', '0')
		case '/':
			b = append(b, '~', '1')
		default:
			b = append(b, s[i])
		}
	}
	return string(b)
}

// Statements of the save path, prepared once (storage.NewStatement).
var (
	stmtInsertEntry = storage.NewStatement(`INSERT INTO entries (id, collection, slug, status, version, data, author_id, created_at, updated_at)
			VALUES (?, ?, ?, 'draft', 1, ?, ?, ?, ?)`)
	stmtInsertEntryReturning = storage.NewStatement(`INSERT INTO entries (id, collection, slug, status, version, data, author_id, created_at, updated_at)
			VALUES (?, ?, ?, 'draft', 1, ?, ?, ?, ?) RETURNING seq`)
	stmtInsertRevision = storage.NewStatement(`INSERT INTO revisions (entry_id, rev, entry_version, slug, data, author_id, plugin_id, action, note, created_at)
			VALUES (?, (SELECT COALESCE(MAX(rev), 0) + 1 FROM revisions WHERE entry_id = ?), ?, ?, ?, ?, ?, ?, ?, ?)`)
	stmtCollectionUpdated = storage.NewStatement(`SELECT updated_at FROM collections WHERE name = ?`)
	// stmtUpdateEntry writes a new working copy. A published entry's public
	// copy is stored apart only while it differs from the working copy
	// (published_data and published_slug NULL mean "the same as data and
	// slug"): the first edit of a draft keeps the old working copy as the
	// public one, and an edit back to what the public sees drops it again.
	// SET expressions read the row as it was before the update.
	// Arguments: data, slug, data, slug, updated_at, id.
	stmtUpdateEntry = storage.NewStatement(`UPDATE entries SET
		published_data = CASE WHEN published_version IS NULL OR COALESCE(published_data, data) = ? THEN NULL
			ELSE COALESCE(published_data, data) END,
		published_slug = CASE WHEN published_version IS NULL OR COALESCE(published_slug, slug) = ? THEN NULL
			ELSE COALESCE(published_slug, slug) END,
		data = ?, slug = ?, version = version + 1, updated_at = ? WHERE id = ?`)
)
