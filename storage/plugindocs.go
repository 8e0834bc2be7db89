package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Plugin document collections (ctx.storage.<collection>). A document is a
// JSON object stored whole in plugin_docs; each declared index keeps one row
// per document in plugin_doc_keys holding the document's values of the
// index's fields as byte keys (dockey.go). Queries run on those rows, so a
// filtered, ordered page is a B-tree range scan, and a unique index is a
// UNIQUE constraint the database enforces.

// MaxBatch bounds the documents (or ids) of one getMany, putMany or
// deleteMany. A batch is one transaction.
const MaxBatch = 100

// ErrUnique refuses a write that breaks a unique index; the message names
// the index.
var ErrUnique = errors.New("unique index violation")

// StorageIndex is one declared index of a collection.
type StorageIndex struct {
	Fields []string
	Unique bool
}

// StorageCollection is one declared collection and its indexes.
type StorageCollection struct {
	Name    string
	Indexes []StorageIndex
}

// indexDef is an index as stored.
type indexDef struct {
	id     int64
	fields []string
	unique bool
}

func (ix indexDef) name() string { return indexName(ix.fields, ix.unique) }

func indexName(fields []string, unique bool) string {
	n := fields[0]
	if len(fields) > 1 {
		n = "[" + strings.Join(fields, ", ") + "]"
	}
	if unique {
		return "unique index " + n
	}
	return "index " + n
}

func (ix indexDef) position(field string) int {
	for i, f := range ix.fields {
		if f == field {
			return i
		}
	}
	return -1
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func loadIndexes(ctx context.Context, q queryer, pluginID, collection string) ([]indexDef, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, fields, uniq FROM plugin_storage_indexes WHERE plugin_id = ? AND collection = ? ORDER BY id`, pluginID, collection)
	if err != nil {
		return nil, fmt.Errorf("storage indexes: %w", err)
	}
	defer rows.Close()
	var out []indexDef
	for rows.Next() {
		var ix indexDef
		var fields string
		if err := rows.Scan(&ix.id, &fields, &ix.unique); err != nil {
			return nil, fmt.Errorf("storage indexes: %w", err)
		}
		ix.fields = strings.Split(fields, ",")
		out = append(out, ix)
	}
	return out, rows.Err()
}

// docKeys are one document's key row of one index.
type docKeys struct {
	k    [4][]byte
	uniq bool
}

// keysOf computes a document's key row for ix from its top-level fields. An
// indexed field must hold a scalar: a string of at most
// MaxIndexedValueBytes, a number, a boolean or null (or be absent).
func keysOf(ix indexDef, top map[string]json.RawMessage) (docKeys, error) {
	var out docKeys
	out.uniq = ix.unique
	for i := range out.k {
		out.k[i] = []byte{}
	}
	for i, f := range ix.fields {
		raw, present := top[f]
		if !present {
			out.k[i] = nullKey
			out.uniq = false
			continue
		}
		v, isScalar, err := decodeScalar(raw)
		if err != nil {
			return out, invalid("field %q: %v", f, err)
		}
		if !isScalar {
			return out, invalid("field %q is in %s, so it must hold a string, number, boolean or null, not an object or array", f, ix.name())
		}
		if s, ok := v.(string); ok && len(s) > MaxIndexedValueBytes {
			return out, invalid("field %q is in %s and holds %d bytes; an indexed string holds at most %d", f, ix.name(), len(s), MaxIndexedValueBytes)
		}
		if v == nil {
			out.uniq = false
		}
		out.k[i] = scalarKey(v)
	}
	return out, nil
}

// checkDocument checks one document's id and data and returns its top-level
// fields.
func checkDocument(collection, id string, data json.RawMessage) (map[string]json.RawMessage, error) {
	if err := checkDoc(collection, id); err != nil {
		return nil, err
	}
	if err := checkValue(data); err != nil {
		return nil, fmt.Errorf("document %q: %w", id, err)
	}
	var top map[string]json.RawMessage
	if t := strings.TrimSpace(string(data)); !strings.HasPrefix(t, "{") || json.Unmarshal(data, &top) != nil {
		return nil, invalid("document %q must be a JSON object", id)
	}
	return top, nil
}

// DocInput is one document of a putMany.
type DocInput struct {
	ID   string          `json:"id"`
	Data json.RawMessage `json:"data"`
}

// DocPut creates or replaces one document; see DocPutMany.
func (p *PluginData) DocPut(ctx context.Context, pluginID, collection, id string, data json.RawMessage, quota int64) error {
	return p.DocPutMany(ctx, pluginID, collection, []DocInput{{ID: id, Data: data}}, quota)
}

// DocPutMany creates or replaces up to MaxBatch documents in one
// transaction: all are written or, when any breaks a rule, a unique index
// or the quota (quota <= 0: none), none is.
func (p *PluginData) DocPutMany(ctx context.Context, pluginID, collection string, docs []DocInput, quota int64) error {
	if len(docs) == 0 {
		return nil
	}
	if len(docs) > MaxBatch {
		return invalid("a batch holds at most %d documents, not %d", MaxBatch, len(docs))
	}
	tops := make([]map[string]json.RawMessage, len(docs))
	seen := make(map[string]int, len(docs))
	for i, d := range docs {
		top, err := checkDocument(collection, d.ID, d.Data)
		if err != nil {
			return err
		}
		if j, dup := seen[d.ID]; dup {
			return invalid("document id %q appears twice in the batch (items %d and %d)", d.ID, j, i)
		}
		seen[d.ID] = i
		tops[i] = top
	}
	now := p.now().UnixMilli()
	return p.db.Tx(ctx, func(tx *sql.Tx) error {
		idxs, err := loadIndexes(ctx, tx, pluginID, collection)
		if err != nil {
			return err
		}
		keys := make([][]docKeys, len(docs))
		for i := range docs {
			keys[i] = make([]docKeys, len(idxs))
			for j, ix := range idxs {
				if keys[i][j], err = keysOf(ix, tops[i]); err != nil {
					return fmt.Errorf("document %q: %w", docs[i].ID, err)
				}
			}
		}
		put, err := tx.PrepareContext(ctx, `INSERT INTO plugin_docs (plugin_id, collection, id, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (plugin_id, collection, id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`)
		if err != nil {
			return fmt.Errorf("storage put: %w", err)
		}
		defer put.Close()
		keyStmt, err := prepareKeyUpsert(ctx, tx)
		if err != nil {
			return err
		}
		defer keyStmt.Close()
		var delta int64
		for i, d := range docs {
			var old sql.NullInt64
			if err := tx.QueryRowContext(ctx, `SELECT `+byteLength("id")+` + `+byteLength("data")+` FROM plugin_docs WHERE plugin_id = ? AND collection = ? AND id = ?`,
				pluginID, collection, d.ID).Scan(&old); err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("storage put: %w", err)
			}
			if _, err := put.ExecContext(ctx, pluginID, collection, d.ID, string(d.Data), now, now); err != nil {
				return fmt.Errorf("storage put: %w", err)
			}
			delta += int64(len(d.ID)+len(d.Data)) - old.Int64
			for j, ix := range idxs {
				if err := writeKeys(ctx, tx, keyStmt, collection, ix, d.ID, keys[i][j]); err != nil {
					return err
				}
			}
		}
		return addUsage(ctx, tx, pluginID, delta, quota)
	})
}

func prepareKeyUpsert(ctx context.Context, tx *sql.Tx) (*sql.Stmt, error) {
	st, err := tx.PrepareContext(ctx, `INSERT INTO plugin_doc_keys (index_id, doc_id, k1, k2, k3, k4, uniq) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (index_id, doc_id) DO UPDATE SET k1 = excluded.k1, k2 = excluded.k2, k3 = excluded.k3, k4 = excluded.k4, uniq = excluded.uniq`)
	if err != nil {
		return nil, fmt.Errorf("storage index: %w", err)
	}
	return st, nil
}

// writeKeys stores a document's key row of ix. A unique index's constraint
// failing names the index, the value and the document that holds it.
//
// The holder is looked up first: after a failed statement PostgreSQL
// accepts nothing more in the transaction, so it could not be asked after.
// The constraint, not the lookup, is what keeps values unique.
func writeKeys(ctx context.Context, tx *sql.Tx, st *sql.Stmt, collection string, ix indexDef, docID string, k docKeys) error {
	conflict := func(other string) error {
		return &uniqueError{index: ix.name(), collection: collection,
			detail: fmt.Sprintf("document %q has %s, which document %q already has", docID, describeValues(ix, k), other)}
	}
	if k.uniq {
		var other string
		err := tx.QueryRowContext(ctx, `SELECT doc_id FROM plugin_doc_keys WHERE index_id = ? AND k1 = ? AND k2 = ? AND k3 = ? AND k4 = ? AND uniq = 1 AND doc_id <> ?`,
			ix.id, k.k[0], k.k[1], k.k[2], k.k[3], docID).Scan(&other)
		switch {
		case err == nil:
			return conflict(other)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("storage index: %w", err)
		}
	}
	_, err := st.ExecContext(ctx, ix.id, docID, k.k[0], k.k[1], k.k[2], k.k[3], k.uniq)
	if err == nil {
		return nil
	}
	if IsUniqueViolation(err) {
		// Another transaction's document took the value since the lookup.
		return conflict("written at the same time")
	}
	return fmt.Errorf("storage index: %w", err)
}

// uniqueError is an ErrUnique naming the index.
type uniqueError struct{ index, collection, detail string }

func (e *uniqueError) Error() string {
	return fmt.Sprintf("%s of collection %q is violated: %s", e.index, e.collection, e.detail)
}

func (e *uniqueError) Unwrap() error { return ErrUnique }

func describeValues(ix indexDef, k docKeys) string {
	parts := make([]string, len(ix.fields))
	for i, f := range ix.fields {
		parts[i] = f + " = " + describeKey(k.k[i])
	}
	return strings.Join(parts, ", ")
}

// DocDelete removes a document and reports whether it existed.
func (p *PluginData) DocDelete(ctx context.Context, pluginID, collection, id string) (bool, error) {
	n, err := p.DocDeleteMany(ctx, pluginID, collection, []string{id})
	return n > 0, err
}

// DocDeleteMany removes up to MaxBatch documents in one transaction and
// returns how many existed.
func (p *PluginData) DocDeleteMany(ctx context.Context, pluginID, collection string, ids []string) (int, error) {
	if len(ids) > MaxBatch {
		return 0, invalid("a batch holds at most %d ids, not %d", MaxBatch, len(ids))
	}
	for _, id := range ids {
		if err := checkDoc(collection, id); err != nil {
			return 0, err
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	deleted := 0
	err := p.db.Tx(ctx, func(tx *sql.Tx) error {
		idxs, err := loadIndexes(ctx, tx, pluginID, collection)
		if err != nil {
			return err
		}
		var freed int64
		for _, id := range ids {
			var size int64
			err := tx.QueryRowContext(ctx, `DELETE FROM plugin_docs WHERE plugin_id = ? AND collection = ? AND id = ? RETURNING `+byteLength("id")+` + `+byteLength("data"),
				pluginID, collection, id).Scan(&size)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return fmt.Errorf("storage delete: %w", err)
			}
			deleted++
			freed += size
			for _, ix := range idxs {
				if _, err := tx.ExecContext(ctx, `DELETE FROM plugin_doc_keys WHERE index_id = ? AND doc_id = ?`, ix.id, id); err != nil {
					return fmt.Errorf("storage delete: %w", err)
				}
			}
		}
		return addUsage(ctx, tx, pluginID, -freed, 0)
	})
	if err != nil {
		return 0, err
	}
	return deleted, nil
}

// DocExists reports whether a document exists.
func (p *PluginData) DocExists(ctx context.Context, pluginID, collection, id string) (bool, error) {
	if err := checkDoc(collection, id); err != nil {
		return false, err
	}
	var one int
	err := p.db.Read().QueryRowContext(ctx, `SELECT 1 FROM plugin_docs WHERE plugin_id = ? AND collection = ? AND id = ?`, pluginID, collection, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("storage exists: %w", err)
	}
	return true, nil
}

// DocGetMany returns the documents of up to MaxBatch ids that exist, in the
// order of ids (an id asked for twice is returned once).
func (p *PluginData) DocGetMany(ctx context.Context, pluginID, collection string, ids []string) ([]Doc, error) {
	if len(ids) > MaxBatch {
		return nil, invalid("a batch holds at most %d ids, not %d", MaxBatch, len(ids))
	}
	for _, id := range ids {
		if err := checkDoc(collection, id); err != nil {
			return nil, err
		}
	}
	out := []Doc{}
	if len(ids) == 0 {
		return out, nil
	}
	args := []any{pluginID, collection}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := p.db.Read().QueryContext(ctx, `SELECT id, data, created_at, updated_at FROM plugin_docs WHERE plugin_id = ? AND collection = ? AND id IN (`+
		placeholders(len(ids))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("storage getMany: %w", err)
	}
	defer rows.Close()
	found := map[string]Doc{}
	for rows.Next() {
		var d Doc
		var data string
		if err := rows.Scan(&d.ID, &data, &d.CreatedAt, &d.UpdatedAt); err != nil {
			return nil, fmt.Errorf("storage getMany: %w", err)
		}
		d.Data = json.RawMessage(data)
		found[d.ID] = d
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storage getMany: %w", err)
	}
	for _, id := range ids {
		if d, ok := found[id]; ok {
			out = append(out, d)
			delete(found, id)
		}
	}
	return out, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// IndexBuildError reports an index an upgrade declares that the existing
// documents cannot satisfy (duplicates for a unique index, or a value an
// index cannot hold).
type IndexBuildError struct {
	Collection string
	Fields     []string
	Unique     bool
	Detail     string
}

func (e *IndexBuildError) Error() string {
	return fmt.Sprintf("storage collection %q: cannot build %s over the existing documents: %s", e.Collection, indexName(e.Fields, e.Unique), e.Detail)
}

// SyncIndexes makes the stored indexes of a plugin's collections those of
// colls: new ones are built over the existing documents (backfilled), and,
// with drop, indexes no longer declared are removed with their rows.
func (p *PluginData) SyncIndexes(ctx context.Context, pluginID string, colls []StorageCollection, drop bool) error {
	return p.db.Tx(ctx, func(tx *sql.Tx) error { return SyncIndexesTx(ctx, tx, pluginID, colls, drop) })
}

// SyncIndexesTx is SyncIndexes inside the caller's transaction, so an
// upgrade's index changes commit or roll back with it.
func SyncIndexesTx(ctx context.Context, tx *sql.Tx, pluginID string, colls []StorageCollection, drop bool) error {
	type key struct {
		coll, fields string
		unique       bool
	}
	have := map[key]int64{}
	rows, err := tx.QueryContext(ctx, `SELECT id, collection, fields, uniq FROM plugin_storage_indexes WHERE plugin_id = ?`, pluginID)
	if err != nil {
		return fmt.Errorf("storage indexes: %w", err)
	}
	for rows.Next() {
		var k key
		var id int64
		if err := rows.Scan(&id, &k.coll, &k.fields, &k.unique); err != nil {
			rows.Close()
			return fmt.Errorf("storage indexes: %w", err)
		}
		have[k] = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("storage indexes: %w", err)
	}
	want := map[key]bool{}
	for _, c := range colls {
		for _, ix := range c.Indexes {
			if len(ix.Fields) == 0 || len(ix.Fields) > 4 {
				return invalid("index of collection %q must have 1 to 4 fields", c.Name)
			}
			k := key{c.Name, strings.Join(ix.Fields, ","), ix.Unique}
			want[k] = true
			if _, ok := have[k]; ok {
				continue
			}
			var id int64
			if err := tx.QueryRowContext(ctx, `INSERT INTO plugin_storage_indexes (plugin_id, collection, fields, uniq) VALUES (?, ?, ?, ?) RETURNING id`,
				pluginID, c.Name, k.fields, ix.Unique).Scan(&id); err != nil {
				return fmt.Errorf("storage indexes: %w", err)
			}
			if err := backfill(ctx, tx, pluginID, c.Name, indexDef{id: id, fields: ix.Fields, unique: ix.Unique}); err != nil {
				return err
			}
		}
	}
	if !drop {
		return nil
	}
	for k, id := range have {
		if want[k] {
			continue
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM plugin_doc_keys WHERE index_id = ?`, id); err != nil {
			return fmt.Errorf("storage indexes: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM plugin_storage_indexes WHERE id = ?`, id); err != nil {
			return fmt.Errorf("storage indexes: %w", err)
		}
	}
	return nil
}

// backfill builds ix's rows for the collection's existing documents, a page
// at a time (keyset on id) so no statement stays open while writing.
func backfill(ctx context.Context, tx *sql.Tx, pluginID, collection string, ix indexDef) error {
	st, err := prepareKeyUpsert(ctx, tx)
	if err != nil {
		return err
	}
	defer st.Close()
	after := ""
	for {
		type doc struct{ id, data string }
		var page []doc
		rows, err := tx.QueryContext(ctx, `SELECT id, data FROM plugin_docs WHERE plugin_id = ? AND collection = ? AND id > ? ORDER BY id LIMIT 500`, pluginID, collection, after)
		if err != nil {
			return fmt.Errorf("storage index backfill: %w", err)
		}
		for rows.Next() {
			var d doc
			if err := rows.Scan(&d.id, &d.data); err != nil {
				rows.Close()
				return fmt.Errorf("storage index backfill: %w", err)
			}
			page = append(page, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("storage index backfill: %w", err)
		}
		if len(page) == 0 {
			return nil
		}
		for _, d := range page {
			var top map[string]json.RawMessage
			_ = json.Unmarshal([]byte(d.data), &top)
			k, err := keysOf(ix, top)
			if err != nil {
				return &IndexBuildError{Collection: collection, Fields: ix.fields, Unique: ix.unique, Detail: fmt.Sprintf("document %q: %s", d.id, strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "))}
			}
			if err := writeKeys(ctx, tx, st, collection, ix, d.id, k); err != nil {
				var ue *uniqueError
				if errors.As(err, &ue) {
					return &IndexBuildError{Collection: collection, Fields: ix.fields, Unique: ix.unique, Detail: ue.detail}
				}
				return err
			}
		}
		after = page[len(page)-1].id
	}
}
