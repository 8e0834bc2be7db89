package cms

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// CollectionOptions switch collection-wide behaviour.
type CollectionOptions struct {
	// Drafts: editing a published entry makes a draft the public does not see
	// until it is published. Off: saving a published entry republishes it.
	Drafts bool `json:"drafts"`
	// Revisions: every save keeps a revision.
	Revisions bool `json:"revisions"`
	// Scheduling: entries may be published at a future time.
	Scheduling bool `json:"scheduling"`
	// Public: published entries are served unauthenticated at
	// /api/public/{collection}. Off for new collections, so nothing is
	// published to the world by accident; collections made before the switch
	// existed were turned on by migration 00019, as they were public already.
	Public bool `json:"public"`
}

// OptionsInput is CollectionOptions with every member optional.
type OptionsInput struct {
	Drafts     *bool `json:"drafts"`
	Revisions  *bool `json:"revisions"`
	Scheduling *bool `json:"scheduling"`
	Public     *bool `json:"public"`
}

func (in *OptionsInput) apply(o CollectionOptions) CollectionOptions {
	if in == nil {
		return o
	}
	if in.Drafts != nil {
		o.Drafts = *in.Drafts
	}
	if in.Revisions != nil {
		o.Revisions = *in.Revisions
	}
	if in.Scheduling != nil {
		o.Scheduling = *in.Scheduling
	}
	if in.Public != nil {
		o.Public = *in.Public
	}
	return o
}

var defaultOptions = CollectionOptions{Drafts: true, Revisions: true, Scheduling: true}

// Collection is a content type defined at run time.
type Collection struct {
	Name      string            `json:"name"`
	Label     string            `json:"label"`
	Fields    []*Field          `json:"fields"`
	Options   CollectionOptions `json:"options"`
	CreatedAt time.Time         `json:"createdAt"`
	UpdatedAt time.Time         `json:"updatedAt"`

	// hidden are removed fields: their values stay stored, unseen, and come back
	// when a field of the same name is added again.
	hidden []*Field
}

// Field returns the active field with the given name, or nil.
func (c *Collection) Field(name string) *Field { return fieldNamed(c.Fields, name) }

func (c *Collection) slugField() *Field {
	for _, f := range c.Fields {
		if f.Type == TypeSlug {
			return f
		}
	}
	return nil
}

// CollectionInput creates a collection, or (with Name ignored) replaces one.
type CollectionInput struct {
	Name    string        `json:"name"`
	Label   string        `json:"label"`
	Fields  []*Field      `json:"fields"`
	Options *OptionsInput `json:"options"`
}

// CollectionPatch changes some of a collection; nil members are left alone.
// Fields, when given, is the complete new list of fields.
type CollectionPatch struct {
	Label   *string       `json:"label"`
	Fields  []*Field      `json:"fields"`
	Options *OptionsInput `json:"options"`
}

// MediaChecker tells whether a media item exists; the media service provides it.
type MediaChecker interface {
	MediaExists(ctx context.Context, id string) (bool, error)
}

// Content is the content service: collections, entries, revisions, publishing
// and delivery. It is safe for concurrent use.
type Content struct {
	db    *storage.DB
	log   *slog.Logger
	hooks Hooks
	media MediaChecker
	now   func() time.Time

	mu    sync.RWMutex
	cache map[string]*Collection
	// cacheGen is the generation of the collections topic the cache
	// belongs to; collections follows the topic (every write of a
	// collection bumps it, in any process sharing the database).
	cacheGen    uint64
	collections *storage.Topic
	// schedule moves when a schedule is set or restored, waking the
	// scheduler (of every process) to re-read the next due time.
	schedule *storage.Topic

	stmtMu sync.Mutex
	bySlug *sql.Stmt
	lists  readStmts
	public *publicCache
}

// ContentOption configures NewContent.
type ContentOption func(*Content)

// WithHooks sets the plugin hook dispatcher (default NopHooks).
func WithHooks(h Hooks) ContentOption { return func(c *Content) { c.hooks = h } }

// WithMediaChecker makes media fields verify that the media item exists;
// without it they only check the id's form.
func WithMediaChecker(m MediaChecker) ContentOption { return func(c *Content) { c.media = m } }

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) ContentOption { return func(c *Content) { c.now = now } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) ContentOption { return func(c *Content) { c.log = l } }

// NewContent returns the content service.
func NewContent(db *storage.DB, opts ...ContentOption) *Content {
	c := &Content{db: db, log: slog.Default(), hooks: NopHooks{}, now: time.Now,
		cache: map[string]*Collection{}, collections: db.Topic(storage.TopicCollections), schedule: db.Topic(storage.TopicSchedule),
		public: newPublicCache(db.Topic(storage.TopicEntries), publicCacheBytes)}
	c.cacheGen = c.collections.Current()
	for _, o := range opts {
		o(c)
	}
	return c
}

// SetHooks replaces the hook dispatcher; the plugins service calls it once wired.
func (c *Content) SetHooks(h Hooks) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h == nil {
		h = NopHooks{}
	}
	c.hooks = h
}

func (c *Content) hooksImpl() Hooks {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.hooks
}

func (c *Content) nowMs() int64 { return c.now().UTC().UnixMilli() }

// Collection returns the named collection.
func (c *Content) Collection(ctx context.Context, name string) (*Collection, error) {
	gen := c.collections.Current()
	c.mu.RLock()
	var col *Collection
	if c.cacheGen == gen {
		col = c.cache[name]
	}
	c.mu.RUnlock()
	if col != nil {
		return col, nil
	}
	if !nameRE.MatchString(name) {
		return nil, notFoundf("there is no collection %q", name)
	}
	col, err := scanCollection(c.db.Read().QueryRowContext(ctx, `SELECT `+collectionColumns+` FROM collections WHERE name = ?`, name))
	if errors.Is(err, ErrNotFound) {
		return nil, notFoundf("there is no collection %q", name)
	}
	if err != nil {
		return nil, fmt.Errorf("get collection: %w", err)
	}
	c.mu.Lock()
	if gen > c.cacheGen {
		c.cache, c.cacheGen = map[string]*Collection{}, gen
	}
	if gen == c.cacheGen {
		c.cache[name] = col
	}
	c.mu.Unlock()
	return col, nil
}

// forget drops a cached collection definition (and the public cache, which
// holds data shaped by it) that a write found out of date: changed by
// another process whose bump this process's view has not read yet.
func (c *Content) forget(name string) {
	c.mu.Lock()
	delete(c.cache, name)
	c.mu.Unlock()
	c.public.drop()
}

// collectionChanged bumps what a change of a collection invalidates in
// every process: the definitions, and the public entries shaped by them.
func (c *Content) collectionChanged(ctx context.Context, tx *sql.Tx) error {
	if err := c.db.Bump(ctx, tx, storage.TopicCollections); err != nil {
		return err
	}
	return c.db.Bump(ctx, tx, storage.TopicEntries)
}

const collectionColumns = `name, label, fields, hidden, options, created_at, updated_at`

func scanCollection(row interface{ Scan(...any) error }) (*Collection, error) {
	var col Collection
	var fields, hidden, options string
	var created, updated int64
	if err := row.Scan(&col.Name, &col.Label, &fields, &hidden, &options, &created, &updated); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	if err := json.Unmarshal([]byte(fields), &col.Fields); err != nil {
		return nil, fmt.Errorf("collection %s: stored fields: %w", col.Name, err)
	}
	if err := json.Unmarshal([]byte(hidden), &col.hidden); err != nil {
		return nil, fmt.Errorf("collection %s: stored hidden fields: %w", col.Name, err)
	}
	if err := json.Unmarshal([]byte(options), &col.Options); err != nil {
		return nil, fmt.Errorf("collection %s: stored options: %w", col.Name, err)
	}
	// Stored definitions were validated when saved; this compiles their patterns.
	var v ValidationError
	validateFields(&v, col.Fields)
	col.CreatedAt = time.UnixMilli(created).UTC()
	col.UpdatedAt = time.UnixMilli(updated).UTC()
	return &col, nil
}

// ListCollections returns every collection, by name.
func (c *Content) ListCollections(ctx context.Context) ([]*Collection, error) {
	rows, err := c.db.Read().QueryContext(ctx, `SELECT `+collectionColumns+` FROM collections ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list collections: %w", err)
	}
	defer rows.Close()
	out := []*Collection{}
	for rows.Next() {
		col, err := scanCollection(rows)
		if err != nil {
			return nil, fmt.Errorf("list collections: %w", err)
		}
		out = append(out, col)
	}
	return out, rows.Err()
}

func validateCollectionHead(v *ValidationError, label string) {
	if label == "" {
		v.Add("/label", "is required")
	} else if utf8.RuneCountInString(label) > 200 {
		v.Add("/label", "must be at most 200 characters")
	}
}

// checkReferenceTargets verifies reference fields point at existing collections
// (self-references allowed).
func checkReferenceTargets(ctx context.Context, tx *sql.Tx, v *ValidationError, self string, fields []*Field) error {
	for i, f := range fields {
		if f == nil || f.Type != TypeReference || f.Collection == "" || f.Collection == self {
			continue
		}
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM collections WHERE name = ?`, f.Collection).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			v.Add(fmt.Sprintf("/fields/%d/collection", i), fmt.Sprintf("names no collection: %q", f.Collection))
		} else if err != nil {
			return err
		}
	}
	return nil
}

// CreateCollection adds a collection.
func (c *Content) CreateCollection(ctx context.Context, in CollectionInput) (*Collection, error) {
	var v ValidationError
	switch {
	case in.Name == "":
		v.Add("/name", "is required")
	case len(in.Name) > maxNameLen || !nameRE.MatchString(in.Name):
		v.Add("/name", fmt.Sprintf("must match ^[a-z][a-z0-9_]*$ and be at most %d characters", maxNameLen))
	}
	validateCollectionHead(&v, in.Label)
	if in.Fields == nil {
		in.Fields = []*Field{}
	}
	validateFields(&v, in.Fields)
	if err := v.Err(); err != nil {
		return nil, err
	}
	now := c.nowMs()
	col := &Collection{Name: in.Name, Label: in.Label, Fields: in.Fields, Options: in.Options.apply(defaultOptions),
		CreatedAt: time.UnixMilli(now).UTC(), UpdatedAt: time.UnixMilli(now).UTC()}
	err := c.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := checkReferenceTargets(ctx, tx, &v, col.Name, col.Fields); err != nil {
			return err
		}
		if err := v.Err(); err != nil {
			return err
		}
		fields, _ := json.Marshal(col.Fields)
		opts, _ := json.Marshal(col.Options)
		if _, err := tx.ExecContext(ctx, `INSERT INTO collections (name, label, fields, hidden, options, created_at, updated_at) VALUES (?, ?, ?, '[]', ?, ?, ?)`,
			col.Name, col.Label, string(fields), string(opts), now, now); err != nil {
			if storage.IsUniqueViolation(err) {
				return &ValidationError{Errors: []FieldError{{"/name", fmt.Sprintf("collection %q already exists", col.Name)}}}
			}
			return err
		}
		if err := syncIndexes(ctx, tx, c.pg(), col.Name, nil, col.Fields); err != nil {
			return err
		}
		return c.collectionChanged(ctx, tx)
	})
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			return nil, err
		}
		return nil, fmt.Errorf("create collection: %w", err)
	}
	return col, nil
}

// UpdateCollection changes a collection. Stored data is never lost: a removed
// field is hidden (its values stay stored and return when a field of that name
// is added again); a change of a field's type or options is refused while any
// stored value would not be valid under the new definition; making a field
// unique is refused while duplicates exist.
func (c *Content) UpdateCollection(ctx context.Context, name string, in CollectionPatch) (*Collection, error) {
	var out *Collection
	err := c.db.Tx(ctx, func(tx *sql.Tx) error {
		old, err := scanCollection(tx.QueryRowContext(ctx, `SELECT `+collectionColumns+` FROM collections WHERE name = ?`, name))
		if errors.Is(err, ErrNotFound) {
			return notFoundf("there is no collection %q", name)
		}
		if err != nil {
			return err
		}
		next := *old
		var v ValidationError
		if in.Label != nil {
			next.Label = *in.Label
		}
		validateCollectionHead(&v, next.Label)
		next.Options = in.Options.apply(old.Options)
		if in.Fields != nil {
			validateFields(&v, in.Fields)
			if err := checkReferenceTargets(ctx, tx, &v, name, in.Fields); err != nil {
				return err
			}
			if err := v.Err(); err != nil {
				return err
			}
			if err := c.checkFieldChanges(ctx, tx, &v, old, in.Fields); err != nil {
				return err
			}
			next.Fields = in.Fields
			next.hidden = hiddenAfter(old, in.Fields)
		}
		if err := v.Err(); err != nil {
			return err
		}
		next.UpdatedAt = time.UnixMilli(max(c.nowMs(), old.UpdatedAt.UnixMilli()+1)).UTC()
		fields, _ := json.Marshal(next.Fields)
		hidden, _ := json.Marshal(next.hidden)
		opts, _ := json.Marshal(next.Options)
		if _, err := tx.ExecContext(ctx, `UPDATE collections SET label = ?, fields = ?, hidden = ?, options = ?, updated_at = ? WHERE name = ?`,
			next.Label, string(fields), string(hidden), string(opts), next.UpdatedAt.UnixMilli(), name); err != nil {
			return err
		}
		if err := syncIndexes(ctx, tx, c.pg(), name, old.Fields, next.Fields); err != nil {
			return err
		}
		out = &next
		return c.collectionChanged(ctx, tx)
	})
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) || errors.Is(err, ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("update collection: %w", err)
	}
	return out, nil
}

// hiddenAfter is the hidden-field list once fields replace old's fields: fields
// that disappear are hidden; hidden fields that come back are no longer hidden.
func hiddenAfter(old *Collection, fields []*Field) []*Field {
	hidden := []*Field{}
	for _, h := range old.hidden {
		if fieldNamed(fields, h.Name) == nil && fieldNamed(old.Fields, h.Name) == nil {
			hidden = append(hidden, h)
		}
	}
	for _, f := range old.Fields {
		if fieldNamed(fields, f.Name) == nil {
			hidden = append(hidden, f)
		}
	}
	return hidden
}

// checkFieldChanges refuses changes that would make stored values invalid.
func (c *Content) checkFieldChanges(ctx context.Context, tx *sql.Tx, v *ValidationError, old *Collection, fields []*Field) error {
	for i, f := range fields {
		prev := fieldNamed(old.Fields, f.Name)
		if prev == nil {
			prev = fieldNamed(old.hidden, f.Name)
		}
		if prev == nil {
			continue // a new name: no entry holds a value for it
		}
		shapeChanged := prev.Type != f.Type || !equalStrings(prev.Options, f.Options)
		bad := 0
		if shapeChanged {
			var example string
			var err error
			bad, example, err = countInvalidValues(ctx, tx, c.pg(), old.Name, f)
			if err != nil {
				return err
			}
			if bad > 0 {
				v.Add(fmt.Sprintf("/fields/%d/type", i), fmt.Sprintf(
					"cannot change field %q to this definition: %d stored value(s) would not be valid %s values (e.g. entry %s); change or clear them first",
					f.Name, bad, f.Type, example))
			}
		}
		// On PostgreSQL the typed field expression cannot read values of
		// another type (the float8 cast fails): with any, skip the check.
		if f.Unique && (!prev.Unique || shapeChanged) && !(bad > 0 && c.pg()) {
			dup, err := duplicateValue(ctx, tx, c.pg(), old.Name, f)
			if err != nil {
				return err
			}
			if dup != "" {
				v.Add(fmt.Sprintf("/fields/%d/unique", i), fmt.Sprintf("cannot make %q unique: value %s is used by several entries", f.Name, dup))
			}
		}
	}
	return nil
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// countInvalidValues checks every stored value of f's name (working and
// published copies) against f's type and options; bounds and patterns are not
// checked here, they apply at the next save.
func countInvalidValues(ctx context.Context, tx *sql.Tx, pg bool, collection string, f *Field) (int, string, error) {
	loose := &Field{Name: f.Name, Type: f.Type, Options: f.Options}
	query, path := valuesOfFieldSQL, "$."+f.Name
	if pg {
		query, path = pgValuesOfFieldSQL, f.Name
	}
	rows, err := tx.QueryContext(ctx, query, collection, path, path)
	if err != nil {
		return 0, "", err
	}
	defer rows.Close()
	bad, example := 0, ""
	for rows.Next() {
		var id string
		var raw sql.NullString
		if err := rows.Scan(&id, &raw); err != nil {
			return 0, "", err
		}
		if !raw.Valid {
			continue
		}
		val, err := decodeJSONValue([]byte(raw.String))
		if err != nil || val == nil {
			continue
		}
		if _, probs := loose.normalize(val); len(probs) > 0 {
			bad++
			if example == "" {
				example = id
			}
		}
	}
	return bad, example, rows.Err()
}

// DeleteCollection removes a collection. A collection that still has entries
// (trashed ones included) is kept and ErrConflict returned, unless purge is set,
// which deletes its entries and their revisions too. A collection other
// collections reference is never deleted.
func (c *Content) DeleteCollection(ctx context.Context, name string, purge bool) error {
	err := c.db.Tx(ctx, func(tx *sql.Tx) error {
		col, err := scanCollection(tx.QueryRowContext(ctx, `SELECT `+collectionColumns+` FROM collections WHERE name = ?`, name))
		if errors.Is(err, ErrNotFound) {
			return notFoundf("there is no collection %q", name)
		}
		if err != nil {
			return err
		}
		others, err := scanAllCollections(ctx, tx)
		if err != nil {
			return err
		}
		for _, o := range others {
			if o.Name == name {
				continue
			}
			for _, f := range o.Fields {
				if f.Type == TypeReference && f.Collection == name {
					return conflictf("field %q of collection %q references this collection; change it first", f.Name, o.Name)
				}
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM entries WHERE collection = ?`, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 && !purge {
			return conflictf("collection %q has %d entries; delete with ?purge=true to delete them too", name, n)
		}
		if err := deleteFTSForCollection(ctx, tx, c.pg(), name); err != nil {
			return err
		}
		if err := syncIndexes(ctx, tx, c.pg(), name, col.Fields, nil); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM collections WHERE name = ?`, name); err != nil {
			return err
		}
		return c.collectionChanged(ctx, tx)
	})
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("delete collection: %w", err)
	}
	return err
}

func scanAllCollections(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) ([]*Collection, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+collectionColumns+` FROM collections ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Collection
	for rows.Next() {
		col, err := scanCollection(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, col)
	}
	return out, rows.Err()
}
