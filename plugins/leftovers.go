package plugins

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

// Inheritance is what a plugin installed again under an id whose data
// survived an uninstall takes over: shown in the install response and on the
// consent screen until the first activation.
type Inheritance struct {
	UninstalledVersion string            `json:"uninstalledVersion"`
	KVKeys             int               `json:"kvKeys"`
	StorageDocuments   int               `json:"storageDocuments"`
	Settings           int               `json:"settings"`
	Secrets            []InheritedSecret `json:"secrets"`
}

// InheritedSecret says whether one secret of the earlier installation is
// carried over. A secret goes only where the admin who entered it agreed it
// would go: kept when the new manifest declares it a secret with the same
// injection (host and header) and the same exposure; otherwise it is
// deleted and the admin enters it again.
type InheritedSecret struct {
	Key    string `json:"key"`
	Kept   bool   `json:"kept"`
	Reason string `json:"reason,omitempty"`
}

// recordLeftovers remembers, in an uninstall that keeps data, the manifest
// the data was written under.
func recordLeftovers(ctx context.Context, tx *sql.Tx, id string, mf json.RawMessage, now int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO plugin_leftovers (plugin_id, manifest, uninstalled_at) VALUES (?, ?, ?)
		ON CONFLICT (plugin_id) DO UPDATE SET manifest = excluded.manifest, uninstalled_at = excluded.uninstalled_at, secrets = NULL`, id, string(mf), now)
	return err
}

// inheritSecretsTx decides, for an installation of id without consent yet,
// which leftover secrets the manifest next may keep, and deletes the rest.
// It runs at each upload until the first consent, so a second upload that
// moves a secret's injection elsewhere drops it too.
func inheritSecretsTx(ctx context.Context, tx *sql.Tx, id string, next *manifest.Manifest) error {
	var src string
	var prev sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT manifest, secrets FROM plugin_leftovers WHERE plugin_id = ?`, id).Scan(&src, &prev)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("leftovers of %s: %w", id, err)
	}
	old, err := parseStored(src, id, "uninstalled")
	if err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, `SELECT key FROM plugin_settings WHERE plugin_id = ? AND secret = 1 ORDER BY key`, id)
	if err != nil {
		return err
	}
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return err
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	decided := []InheritedSecret{}
	if prev.Valid {
		_ = json.Unmarshal([]byte(prev.String), &decided)
	}
	for _, k := range keys {
		reason := secretChange(settingOf(old, k), settingOf(next, k))
		if reason != "" {
			if _, err := tx.ExecContext(ctx, `DELETE FROM plugin_settings WHERE plugin_id = ? AND key = ?`, id, k); err != nil {
				return err
			}
		}
		decided = upsertDecision(decided, InheritedSecret{Key: k, Kept: reason == "", Reason: reason})
	}
	// Plain settings that became secrets were stored in the clear and
	// shown to the plugin: not a secret anyone entered as one.
	if keys := secretKeys(next); len(keys) > 0 {
		args := []any{id}
		for _, k := range keys {
			args = append(args, k)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM plugin_settings WHERE plugin_id = ? AND secret = 0 AND key IN (`+
			strings.TrimSuffix(strings.Repeat("?, ", len(keys)), ", ")+`)`, args...); err != nil {
			return err
		}
	}
	raw, _ := json.Marshal(decided)
	_, err = tx.ExecContext(ctx, `UPDATE plugin_leftovers SET secrets = ? WHERE plugin_id = ?`, string(raw), id)
	return err
}

func upsertDecision(ds []InheritedSecret, d InheritedSecret) []InheritedSecret {
	for i := range ds {
		if ds[i].Key == d.Key {
			if !d.Kept || ds[i].Kept {
				ds[i] = d
			}
			return ds
		}
	}
	return append(ds, d)
}

// secretKeys are the keys m declares secret (a manifest has at most a few
// dozen settings, so they fit one IN list on either database).
func secretKeys(m *manifest.Manifest) []string {
	var keys []string
	for _, s := range m.Settings {
		if s.Type == manifest.SettingSecret {
			keys = append(keys, s.Key)
		}
	}
	return keys
}

func settingOf(m *manifest.Manifest, key string) *manifest.Setting {
	if s, ok := m.Setting(key); ok {
		return &s
	}
	return nil
}

// secretChange says why a secret set under old may not pass to next, or ""
// when it may.
func secretChange(old, next *manifest.Setting) string {
	switch {
	case next == nil:
		return "the new version does not declare it"
	case next.Type != manifest.SettingSecret:
		return "the new version does not declare it a secret"
	case old == nil || old.Type != manifest.SettingSecret:
		return "the earlier version did not declare it a secret"
	case !reflect.DeepEqual(old.Inject, next.Inject):
		return "the new version sends it to another host or header"
	case old.Exposed != next.Exposed:
		if next.Exposed {
			return "the new version lets the plugin's code read it"
		}
		return "its exposure to the plugin's code changed"
	}
	return ""
}

// inheritance describes the leftovers id's new installation inherits, or nil
// when there are none (or the installation was consented to already).
func (m *Manager) inheritance(ctx context.Context, id string) (*Inheritance, error) {
	q := m.db.Read()
	var src string
	var secrets sql.NullString
	err := q.QueryRowContext(ctx, `SELECT manifest, secrets FROM plugin_leftovers WHERE plugin_id = ?`, id).Scan(&src, &secrets)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("leftovers of %s: %w", id, err)
	}
	in := &Inheritance{Secrets: []InheritedSecret{}}
	if old, err := parseStored(src, id, "uninstalled"); err == nil {
		in.UninstalledVersion = old.Version
	}
	if secrets.Valid {
		_ = json.Unmarshal([]byte(secrets.String), &in.Secrets)
	}
	for _, c := range []struct {
		n     *int
		query string
	}{
		{&in.KVKeys, `SELECT COUNT(*) FROM plugin_kv WHERE plugin_id = ?`},
		{&in.StorageDocuments, `SELECT COUNT(*) FROM plugin_docs WHERE plugin_id = ?`},
		{&in.Settings, `SELECT COUNT(*) FROM plugin_settings WHERE plugin_id = ? AND secret = 0`},
	} {
		if err := q.QueryRowContext(ctx, c.query, id).Scan(c.n); err != nil {
			return nil, fmt.Errorf("leftovers of %s: %w", id, err)
		}
	}
	return in, nil
}
