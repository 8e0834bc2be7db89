package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on what one plugin may keep. They bound the damage a buggy or hostile
// plugin can do to the site database.
const (
	MaxKVKeyBytes      = 512
	MaxValueBytes      = 256 << 10
	MaxDocIDBytes      = 256
	MaxPageSize        = 100
	DefaultPageSize    = 20
	MaxKVKeysPerPlugin = 100_000
)

// ErrInvalid marks plugin data input that breaks a rule; the message names it.
var ErrInvalid = errors.New("invalid plugin data request")

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// PluginData is the key-value store and document collections that plugins get
// as ctx.kv and ctx.storage. Every method is scoped by plugin id.
type PluginData struct {
	db  *DB
	now func() time.Time
}

// NewPluginData returns the plugin data store on db.
func NewPluginData(db *DB) *PluginData { return &PluginData{db: db, now: time.Now} }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

func checkKey(key string) error {
	switch {
	case key == "":
		return invalid("key must not be empty")
	case len(key) > MaxKVKeyBytes:
		return invalid("key is longer than %d bytes", MaxKVKeyBytes)
	case !utf8.ValidString(key):
		return invalid("key is not valid UTF-8")
	}
	return nil
}

func checkValue(v json.RawMessage) error {
	if len(v) > MaxValueBytes {
		return invalid("value is larger than %d bytes", MaxValueBytes)
	}
	if !json.Valid(v) {
		return invalid("value is not JSON")
	}
	return nil
}

// KVGet returns the value under key, or ErrNotFound.
func (p *PluginData) KVGet(ctx context.Context, pluginID, key string) (json.RawMessage, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	var v string
	err := p.db.Read().QueryRowContext(ctx, `SELECT value FROM plugin_kv WHERE plugin_id = ? AND key = ?`, pluginID, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("kv get: %w", err)
	}
	return json.RawMessage(v), nil
}

// KVSet stores value under key.
func (p *PluginData) KVSet(ctx context.Context, pluginID, key string, value json.RawMessage) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkValue(value); err != nil {
		return err
	}
	return p.db.Tx(ctx, func(tx *sql.Tx) error {
		var exists, n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM plugin_kv WHERE plugin_id = ? AND key = ?`, pluginID, key).Scan(&exists); err != nil {
			return fmt.Errorf("kv set: %w", err)
		}
		if exists == 0 {
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM plugin_kv WHERE plugin_id = ?`, pluginID).Scan(&n); err != nil {
				return fmt.Errorf("kv set: %w", err)
			}
			if n >= MaxKVKeysPerPlugin {
				return invalid("the plugin already keeps %d keys, the most allowed", MaxKVKeysPerPlugin)
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO plugin_kv (plugin_id, key, value, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (plugin_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
			pluginID, key, string(value), p.now().UnixMilli())
		if err != nil {
			return fmt.Errorf("kv set: %w", err)
		}
		return nil
	})
}

// KVDelete removes key. Deleting a missing key is not an error.
func (p *PluginData) KVDelete(ctx context.Context, pluginID, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return p.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM plugin_kv WHERE plugin_id = ? AND key = ?`, pluginID, key)
		return err
	})
}

// KVEntry is one listed key with its value.
type KVEntry struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// KVList lists keys starting with prefix in key order, after the key cursor.
func (p *PluginData) KVList(ctx context.Context, pluginID, prefix, cursor string, limit int) ([]KVEntry, string, error) {
	limit = clampPage(limit)
	// Prefix matching with a range, not LIKE, so '%' and '_' in a prefix are literal.
	lo := prefix
	if cursor > lo {
		lo = cursor
	}
	q := `SELECT key, value FROM plugin_kv WHERE plugin_id = ? AND key >= ? AND key <> ?`
	args := []any{pluginID, lo, cursor}
	if prefix != "" {
		q += ` AND key < ?`
		args = append(args, prefix+"\U0010FFFF")
	}
	q += ` ORDER BY key LIMIT ?`
	args = append(args, limit+1)
	rows, err := p.db.Read().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("kv list: %w", err)
	}
	defer rows.Close()
	out := []KVEntry{}
	for rows.Next() {
		var e KVEntry
		var v string
		if err := rows.Scan(&e.Key, &v); err != nil {
			return nil, "", fmt.Errorf("kv list: %w", err)
		}
		e.Value = json.RawMessage(v)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("kv list: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].Key
	}
	return out, next, nil
}

func clampPage(limit int) int {
	if limit <= 0 {
		return DefaultPageSize
	}
	return min(limit, MaxPageSize)
}

func checkDoc(collection, id string) error {
	if !nameRE.MatchString(collection) || len(collection) > 64 {
		return invalid("collection name %q is not valid", collection)
	}
	switch {
	case id == "":
		return invalid("document id must not be empty")
	case len(id) > MaxDocIDBytes:
		return invalid("document id is longer than %d bytes", MaxDocIDBytes)
	case !utf8.ValidString(id):
		return invalid("document id is not valid UTF-8")
	}
	return nil
}

// Doc is one stored plugin document.
type Doc struct {
	ID        string          `json:"id"`
	Data      json.RawMessage `json:"data"`
	CreatedAt int64           `json:"createdAt"`
	UpdatedAt int64           `json:"updatedAt"`
}

// DocGet returns a document, or ErrNotFound.
func (p *PluginData) DocGet(ctx context.Context, pluginID, collection, id string) (*Doc, error) {
	if err := checkDoc(collection, id); err != nil {
		return nil, err
	}
	var d Doc
	var data string
	err := p.db.Read().QueryRowContext(ctx, `SELECT id, data, created_at, updated_at FROM plugin_docs WHERE plugin_id = ? AND collection = ? AND id = ?`,
		pluginID, collection, id).Scan(&d.ID, &data, &d.CreatedAt, &d.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage get: %w", err)
	}
	d.Data = json.RawMessage(data)
	return &d, nil
}

// DocPut creates or replaces a document. data must be a JSON object.
func (p *PluginData) DocPut(ctx context.Context, pluginID, collection, id string, data json.RawMessage) error {
	if err := checkDoc(collection, id); err != nil {
		return err
	}
	if err := checkValue(data); err != nil {
		return err
	}
	if t := strings.TrimSpace(string(data)); !strings.HasPrefix(t, "{") {
		return invalid("document must be a JSON object")
	}
	now := p.now().UnixMilli()
	return p.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO plugin_docs (plugin_id, collection, id, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (plugin_id, collection, id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`,
			pluginID, collection, id, string(data), now, now)
		if err != nil {
			return fmt.Errorf("storage put: %w", err)
		}
		return nil
	})
}

// DocDelete removes a document and reports whether it existed.
func (p *PluginData) DocDelete(ctx context.Context, pluginID, collection, id string) (bool, error) {
	if err := checkDoc(collection, id); err != nil {
		return false, err
	}
	var existed bool
	err := p.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM plugin_docs WHERE plugin_id = ? AND collection = ? AND id = ?`, pluginID, collection, id)
		if err != nil {
			return fmt.Errorf("storage delete: %w", err)
		}
		n, _ := res.RowsAffected()
		existed = n > 0
		return nil
	})
	return existed, err
}

// DocQuery selects documents of a collection. Where holds equality conditions on
// top-level fields, and OrderBy names a field ("-field" for descending); the
// caller (which knows the manifest) must only pass fields the plugin declared as
// indexes. Without OrderBy results come in id order after the id cursor; with
// it, the cursor is an opaque position.
type DocQuery struct {
	Where   map[string]any
	OrderBy string
	Cursor  string
	Limit   int
}

var fieldRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// DocList runs a DocQuery.
func (p *PluginData) DocList(ctx context.Context, pluginID, collection string, q DocQuery) ([]Doc, string, error) {
	if !nameRE.MatchString(collection) {
		return nil, "", invalid("collection name %q is not valid", collection)
	}
	limit := clampPage(q.Limit)
	where, args, err := docWhere(pluginID, collection, q.Where)
	if err != nil {
		return nil, "", err
	}
	sqlq := `SELECT id, data, created_at, updated_at FROM plugin_docs WHERE ` + where
	offset := 0
	if q.OrderBy == "" {
		sqlq += ` AND id > ? ORDER BY id LIMIT ?`
		args = append(args, q.Cursor, limit+1)
	} else {
		field, desc := strings.CutPrefix(q.OrderBy, "-")
		if !fieldRE.MatchString(field) {
			return nil, "", invalid("orderBy field %q is not valid", field)
		}
		if q.Cursor != "" {
			n, err := strconv.Atoi(strings.TrimPrefix(q.Cursor, "o"))
			if err != nil || n < 0 || !strings.HasPrefix(q.Cursor, "o") {
				return nil, "", invalid("cursor %q is not valid", q.Cursor)
			}
			offset = n
		}
		dir := "ASC"
		if desc {
			dir = "DESC"
		}
		sqlq += ` ORDER BY json_extract(data, ?) ` + dir + `, id ` + dir + ` LIMIT ? OFFSET ?`
		args = append(args, "$."+field, limit+1, offset)
	}
	rows, err := p.db.Read().QueryContext(ctx, sqlq, args...)
	if err != nil {
		return nil, "", fmt.Errorf("storage query: %w", err)
	}
	defer rows.Close()
	out := []Doc{}
	for rows.Next() {
		var d Doc
		var data string
		if err := rows.Scan(&d.ID, &data, &d.CreatedAt, &d.UpdatedAt); err != nil {
			return nil, "", fmt.Errorf("storage query: %w", err)
		}
		d.Data = json.RawMessage(data)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("storage query: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
		if q.OrderBy != "" {
			next = "o" + strconv.Itoa(offset+limit)
		}
	}
	return out, next, nil
}

// DocCount counts the documents matching where.
func (p *PluginData) DocCount(ctx context.Context, pluginID, collection string, where map[string]any) (int, error) {
	if !nameRE.MatchString(collection) {
		return 0, invalid("collection name %q is not valid", collection)
	}
	w, args, err := docWhere(pluginID, collection, where)
	if err != nil {
		return 0, err
	}
	var n int
	if err := p.db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM plugin_docs WHERE `+w, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("storage count: %w", err)
	}
	return n, nil
}

// docWhere builds the WHERE clause. Field names are checked against a strict
// pattern and passed as bound JSON paths, never spliced into SQL.
func docWhere(pluginID, collection string, where map[string]any) (string, []any, error) {
	clause := `plugin_id = ? AND collection = ?`
	args := []any{pluginID, collection}
	for field, v := range where {
		if !fieldRE.MatchString(field) {
			return "", nil, invalid("field name %q is not valid", field)
		}
		switch v.(type) {
		case string, float64, int, int64, bool, nil:
		default:
			return "", nil, invalid("field %q can only be compared with a string, number, boolean or null", field)
		}
		if v == nil {
			clause += ` AND json_extract(data, ?) IS NULL`
			args = append(args, "$."+field)
			continue
		}
		if b, ok := v.(bool); ok {
			v = 0
			if b {
				v = 1
			}
		}
		clause += ` AND json_extract(data, ?) = ?`
		args = append(args, "$."+field, v)
	}
	return clause, args, nil
}

// DeleteAll removes every KV key and document of a plugin (uninstall with data).
func (p *PluginData) DeleteAll(ctx context.Context, pluginID string) error {
	return p.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM plugin_kv WHERE plugin_id = ?`, pluginID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM plugin_docs WHERE plugin_id = ?`, pluginID)
		return err
	})
}
