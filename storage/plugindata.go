package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
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
	case strings.IndexByte(key, 0) >= 0:
		// PostgreSQL's text cannot hold NUL; refused on every database so
		// a plugin behaves the same on both.
		return invalid("key must not contain a NUL character")
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

// KVSet stores value under key. quota bounds the bytes the plugin keeps
// (see addUsage); 0 or less means no quota.
func (p *PluginData) KVSet(ctx context.Context, pluginID, key string, value json.RawMessage, quota int64) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkValue(value); err != nil {
		return err
	}
	return p.db.Tx(ctx, func(tx *sql.Tx) error {
		var old sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT `+byteLength("key")+` + `+byteLength("value")+` FROM plugin_kv WHERE plugin_id = ? AND key = ?`,
			pluginID, key).Scan(&old); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("kv set: %w", err)
		}
		if !old.Valid {
			var n int
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
		return addUsage(ctx, tx, pluginID, int64(len(key)+len(value))-old.Int64, quota)
	})
}

// KVDelete removes key. Deleting a missing key is not an error.
func (p *PluginData) KVDelete(ctx context.Context, pluginID, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return p.db.Tx(ctx, func(tx *sql.Tx) error {
		var size int64
		err := tx.QueryRowContext(ctx, `DELETE FROM plugin_kv WHERE plugin_id = ? AND key = ? RETURNING `+byteLength("key")+` + `+byteLength("value"),
			pluginID, key).Scan(&size)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("kv delete: %w", err)
		}
		return addUsage(ctx, tx, pluginID, -size, 0)
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
	case strings.IndexByte(id, 0) >= 0:
		return invalid("document id must not contain a NUL character")
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

// DeleteAll removes every KV key, document, index and the usage of a plugin
// (uninstall with data).
func (p *PluginData) DeleteAll(ctx context.Context, pluginID string) error {
	return p.db.Tx(ctx, func(tx *sql.Tx) error { return DeleteAllTx(ctx, tx, pluginID) })
}

// DeleteAllTx is DeleteAll inside the caller's transaction.
func DeleteAllTx(ctx context.Context, tx *sql.Tx, pluginID string) error {
	for _, q := range []string{
		`DELETE FROM plugin_kv WHERE plugin_id = ?`,
		`DELETE FROM plugin_doc_keys WHERE index_id IN (SELECT id FROM plugin_storage_indexes WHERE plugin_id = ?)`,
		`DELETE FROM plugin_storage_indexes WHERE plugin_id = ?`,
		`DELETE FROM plugin_docs WHERE plugin_id = ?`,
		`DELETE FROM plugin_storage_usage WHERE plugin_id = ?`,
	} {
		if _, err := tx.ExecContext(ctx, q, pluginID); err != nil {
			return fmt.Errorf("delete plugin data: %w", err)
		}
	}
	return nil
}

// ErrQuota refuses a write that would take a plugin past its storage quota.
var ErrQuota = errors.New("storage quota exceeded")

// byteLength is the SQL expression of a text column's size in bytes.
func byteLength(col string) string { return "octet_length(" + col + ")" }

// addUsage adds delta bytes to the plugin's usage and refuses a growth past
// quota (quota <= 0: none). Shrinking is always allowed, so a plugin over a
// quota that an upgrade lowered can still delete its way back under it.
func addUsage(ctx context.Context, tx *sql.Tx, pluginID string, delta, quota int64) error {
	if delta == 0 {
		return nil
	}
	var total int64
	err := tx.QueryRowContext(ctx, `INSERT INTO plugin_storage_usage (plugin_id, bytes) VALUES (?, ?)
		ON CONFLICT (plugin_id) DO UPDATE SET bytes = CASE WHEN plugin_storage_usage.bytes + ? < 0 THEN 0 ELSE plugin_storage_usage.bytes + ? END
		RETURNING bytes`, pluginID, max(delta, 0), delta, delta).Scan(&total)
	if err != nil {
		return fmt.Errorf("storage usage: %w", err)
	}
	if delta > 0 && quota > 0 && total > quota {
		return fmt.Errorf("%w: this write would bring the plugin's storage to %d bytes, over its storage quota (limits.storageBytes) of %d bytes", ErrQuota, total, quota)
	}
	return nil
}

// Usage returns the bytes a plugin keeps (KV keys and values, document ids
// and data).
func (p *PluginData) Usage(ctx context.Context, pluginID string) (int64, error) {
	var n int64
	err := p.db.Read().QueryRowContext(ctx, `SELECT bytes FROM plugin_storage_usage WHERE plugin_id = ?`, pluginID).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}
