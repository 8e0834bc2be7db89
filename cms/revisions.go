package cms

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Revision is an entry's data as one save left it.
type Revision struct {
	Rev          int            `json:"rev"`
	EntryID      string         `json:"entryId"`
	EntryVersion int64          `json:"entryVersion"`
	Slug         string         `json:"slug"`
	Data         map[string]any `json:"data,omitempty"`
	// AuthorID names the person who made the revision; Plugin the plugin
	// whose ctx.content call did. Neither: the site itself (the scheduler).
	AuthorID string `json:"authorId,omitempty"`
	Plugin   string `json:"plugin,omitempty"`
	// Action is what the revision records: created, edited, published,
	// unpublished, scheduled or restored.
	Action RevisionAction `json:"action"`
	// Note says more: create, update, restore of revision N, publish,
	// schedule for a time, unpublish.
	Note      string    `json:"note"`
	CreatedAt time.Time `json:"createdAt"`
	raw       map[string]any
}

// RevisionAction is what a revision records.
type RevisionAction string

// The actions a revision records. A publish, a schedule and an unpublish
// keep a revision too (with the working data of that moment), so the
// history says who made an entry public and when, not only who typed what.
const (
	ActionCreated     RevisionAction = "created"
	ActionEdited      RevisionAction = "edited"
	ActionPublished   RevisionAction = "published"
	ActionUnpublished RevisionAction = "unpublished"
	ActionScheduled   RevisionAction = "scheduled"
	ActionRestored    RevisionAction = "restored"
)

// revisionMark is what a write tells the revision it keeps.
type revisionMark struct {
	Action RevisionAction
	Note   string
}

type pluginActorKey struct{}

// WithPlugin marks ctx as the work of the plugin pluginID (its ctx.content
// calls act as the system, with no user): the revisions its writes keep
// name the plugin rather than nobody.
func WithPlugin(ctx context.Context, pluginID string) context.Context {
	if pluginID == "" {
		return ctx
	}
	return context.WithValue(ctx, pluginActorKey{}, pluginID)
}

func pluginActor(ctx context.Context) string {
	id, _ := ctx.Value(pluginActorKey{}).(string)
	return id
}

// keepRevision records e as it now is, if the collection keeps revisions.
// A user's write names the user; a system write the plugin in ctx, if any.
func (c *Content) keepRevision(ctx context.Context, tx *sql.Tx, col *Collection, e *Entry, mark revisionMark, u *User) error {
	if !col.Options.Revisions {
		return nil
	}
	var author, plugin any
	if u != nil {
		author = u.ID
	} else if p := pluginActor(ctx); p != "" {
		plugin = p
	}
	_, err := c.db.Exec(ctx, tx, stmtInsertRevision,
		e.ID, e.ID, e.Version, e.Slug, e.rawJSON, author, plugin, string(mark.Action), mark.Note, c.nowMs())
	return err
}

// keepStatusRevision records a status change (publish, schedule, unpublish)
// of entry id, reloading it as the change left it.
func (c *Content) keepStatusRevision(ctx context.Context, tx *sql.Tx, col *Collection, id string, mark revisionMark, u *User) error {
	if !col.Options.Revisions {
		return nil
	}
	e, err := c.loadEntry(ctx, tx, col, id)
	if err != nil {
		return err
	}
	return c.keepRevision(ctx, tx, col, e, mark, u)
}

// Revisions lists all of an entry's revisions, newest first, without their data.
func (c *Content) Revisions(ctx context.Context, u *User, collection, id string) ([]*Revision, error) {
	p, err := c.revisionPage(ctx, u, collection, id, RevisionQuery{}, -1)
	if err != nil {
		return nil, err
	}
	return p.Items, nil
}

// RevisionQuery is a page request of the revisions list: Limit revisions
// older than the one Cursor names (the NextCursor of the previous page).
type RevisionQuery struct {
	Limit  int
	Cursor string
	before int // decoded Cursor
}

// RevisionPage is one page of an entry's revisions, newest first.
type RevisionPage struct {
	Items      []*Revision `json:"items"`
	NextCursor string      `json:"nextCursor,omitempty"`
}

// ParseRevisionQuery reads limit (1..MaxLimit, default DefaultLimit) and
// cursor, reporting each bad one at /query/<parameter>.
func ParseRevisionQuery(vals url.Values) (RevisionQuery, error) {
	q := RevisionQuery{Limit: DefaultLimit}
	var v ValidationError
	for _, key := range slices.Sorted(maps.Keys(vals)) {
		path := "/query/" + key
		if len(vals[key]) != 1 {
			v.Add(path, "must be given once")
			continue
		}
		val := vals[key][0]
		switch key {
		case "limit":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > MaxLimit {
				v.Add(path, fmt.Sprintf("must be a whole number from 1 to %d", MaxLimit))
				continue
			}
			q.Limit = n
		case "cursor":
			before, ok := decodeRevCursor(val)
			if !ok {
				v.Add(path, "is not a cursor this server issued")
				continue
			}
			q.Cursor, q.before = val, before
		default:
			v.Add(path, "is not a known parameter; use limit or cursor")
		}
	}
	return q, v.Err()
}

const revCursorPrefix = "rev:"

func encodeRevCursor(rev int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(revCursorPrefix + strconv.Itoa(rev)))
}

func decodeRevCursor(s string) (int, bool) {
	if len(s) > 64 {
		return 0, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || !strings.HasPrefix(string(raw), revCursorPrefix) {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(raw), revCursorPrefix))
	if err != nil || n < 1 || strconv.Itoa(n) != strings.TrimPrefix(string(raw), revCursorPrefix) {
		return 0, false
	}
	return n, true
}

// RevisionPage lists one page of an entry's revisions, newest first, without
// their data. Pages follow the primary key (entry_id, rev), so each costs
// the same however long the history.
func (c *Content) RevisionPage(ctx context.Context, u *User, collection, id string, q RevisionQuery) (*RevisionPage, error) {
	if q.Cursor != "" && q.before == 0 {
		before, ok := decodeRevCursor(q.Cursor)
		if !ok {
			return nil, &ValidationError{Errors: []FieldError{{"/query/cursor", "is not a cursor this server issued"}}}
		}
		q.before = before
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	return c.revisionPage(ctx, u, collection, id, q, min(limit, MaxLimit))
}

// revisionPage reads up to limit revisions (all with limit < 0) older than q.before.
func (c *Content) revisionPage(ctx context.Context, u *User, collection, id string, q RevisionQuery, limit int) (*RevisionPage, error) {
	if _, err := c.GetEntry(ctx, u, collection, id); err != nil {
		return nil, err
	}
	before := q.before
	if before <= 0 {
		before = math.MaxInt32
	}
	sqlLimit := limit + 1 // one more, to know whether there is a next page
	if limit < 0 {
		sqlLimit = math.MaxInt32 // all: PostgreSQL refuses SQLite's LIMIT -1
	}
	rows, err := c.db.Read().QueryContext(ctx, `SELECT rev, entry_id, entry_version, slug, author_id, plugin_id, action, note, created_at
		FROM revisions WHERE entry_id = ? AND rev < ? ORDER BY rev DESC LIMIT ?`, id, before, sqlLimit)
	if err != nil {
		return nil, fmt.Errorf("list revisions: %w", err)
	}
	defer rows.Close()
	out := &RevisionPage{Items: []*Revision{}}
	for rows.Next() {
		if limit >= 0 && len(out.Items) == limit {
			out.NextCursor = encodeRevCursor(out.Items[len(out.Items)-1].Rev)
			break
		}
		var r Revision
		var author, plugin sql.NullString
		var at int64
		if err := rows.Scan(&r.Rev, &r.EntryID, &r.EntryVersion, &r.Slug, &author, &plugin, &r.Action, &r.Note, &at); err != nil {
			return nil, fmt.Errorf("list revisions: %w", err)
		}
		r.AuthorID, r.Plugin, r.CreatedAt = author.String, plugin.String, time.UnixMilli(at).UTC()
		out.Items = append(out.Items, &r)
	}
	return out, rows.Err()
}

// Revision returns one revision with its data (fields the collection no
// longer has are left out, as for entries).
func (c *Content) Revision(ctx context.Context, u *User, collection, id string, rev int) (*Revision, error) {
	if _, err := c.GetEntry(ctx, u, collection, id); err != nil {
		return nil, err
	}
	col, err := c.Collection(ctx, collection)
	if err != nil {
		return nil, err
	}
	var r Revision
	var author, plugin sql.NullString
	var data string
	var at int64
	err = c.db.Read().QueryRowContext(ctx, `SELECT rev, entry_id, entry_version, slug, data, author_id, plugin_id, action, note, created_at
		FROM revisions WHERE entry_id = ? AND rev = ?`, id, rev).Scan(&r.Rev, &r.EntryID, &r.EntryVersion, &r.Slug, &data, &author, &plugin, &r.Action, &r.Note, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFoundf("this entry has no revision %d", rev)
	}
	if err != nil {
		return nil, fmt.Errorf("get revision: %w", err)
	}
	if r.raw, err = decodeObject([]byte(data)); err != nil {
		return nil, fmt.Errorf("revision %d of %s: stored data: %w", rev, id, err)
	}
	r.Data = visible(col, r.raw)
	r.AuthorID, r.Plugin, r.CreatedAt = author.String, plugin.String, time.UnixMilli(at).UTC()
	return &r, nil
}

// Change is one difference between two revisions, at a JSON path.
type Change struct {
	Path string `json:"path"`
	// Op is "add", "remove" or "replace".
	Op   string `json:"op"`
	From any    `json:"from,omitempty"`
	To   any    `json:"to,omitempty"`
}

// RevisionDiff is what changed from one revision to another.
type RevisionDiff struct {
	From    int      `json:"from"`
	To      int      `json:"to"`
	Changes []Change `json:"changes"`
}

// DiffRevisions compares two revisions field by field (and the slug).
func (c *Content) DiffRevisions(ctx context.Context, u *User, collection, id string, from, to int) (*RevisionDiff, error) {
	a, err := c.Revision(ctx, u, collection, id, from)
	if err != nil {
		return nil, err
	}
	b, err := c.Revision(ctx, u, collection, id, to)
	if err != nil {
		return nil, err
	}
	d := &RevisionDiff{From: from, To: to, Changes: []Change{}}
	if a.Slug != b.Slug {
		d.Changes = append(d.Changes, Change{Path: "/slug", Op: "replace", From: a.Slug, To: b.Slug})
	}
	keys := slices.Sorted(maps.Keys(a.Data))
	for k := range b.Data {
		if _, ok := a.Data[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		av, inA := a.Data[k]
		bv, inB := b.Data[k]
		path := "/data/" + jsonPointerEscape(k)
		switch {
		case !inA:
			d.Changes = append(d.Changes, Change{Path: path, Op: "add", To: bv})
		case !inB:
			d.Changes = append(d.Changes, Change{Path: path, Op: "remove", From: av})
		case !sameJSON(av, bv):
			d.Changes = append(d.Changes, Change{Path: path, Op: "replace", From: av, To: bv})
		}
	}
	return d, nil
}

func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		return reflect.DeepEqual(a, b)
	}
	return string(ja) == string(jb)
}

// RestoreRevision saves an old revision's data as the entry's new working data
// (a new revision; nothing is rewritten). The data is validated against the
// collection as it is now, and goes through the beforeSave hook like any save.
func (c *Content) RestoreRevision(ctx context.Context, u *User, collection, id string, rev int, expect int64) (*Entry, error) {
	r, err := c.Revision(ctx, u, collection, id, rev)
	if err != nil {
		return nil, err
	}
	prefix := fmt.Sprintf("revision %d: ", rev)
	return c.update(ctx, u, collection, id, expect, revisionMark{ActionRestored, fmt.Sprintf("restore of revision %d", rev)}, func(col *Collection, cur *Entry) (map[string]any, error) {
		// The revision's values replace the active fields; hidden values stay.
		raw := map[string]any{}
		for k, v := range cur.raw {
			if col.Field(k) == nil {
				raw[k] = v
			}
		}
		var v ValidationError
		applyInput(&v, col, raw, visible(col, r.raw), prefix)
		checkRequired(&v, col, raw, prefix)
		if err := v.Err(); err != nil {
			return nil, err
		}
		return raw, nil
	})
}
