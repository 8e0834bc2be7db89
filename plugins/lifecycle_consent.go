package plugins

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

// ErrSettingsRequired is wrapped by *MissingSettingsError: a plugin is not
// activated while a setting its manifest marks required is empty. A webhook
// activated without its receiver URL would fail on every publish; the admin
// is asked for the settings between consent and activation instead.
var ErrSettingsRequired = errors.New("required settings are empty")

// MissingSettingsError names the required settings that are empty.
type MissingSettingsError struct {
	Plugin string
	// Settings are the empty required fields, in manifest order.
	Settings []manifest.Setting
}

func (e *MissingSettingsError) Error() string {
	names := make([]string, len(e.Settings))
	for i, s := range e.Settings {
		names[i] = fmt.Sprintf("%q (%s)", s.Label, s.Key)
	}
	return fmt.Sprintf("%s cannot be activated until its required settings are set: %s", e.Plugin, strings.Join(names, ", "))
}

func (e *MissingSettingsError) Unwrap() error { return ErrSettingsRequired }

// Keys are the missing settings' keys.
func (e *MissingSettingsError) Keys() []string {
	out := make([]string, len(e.Settings))
	for i, s := range e.Settings {
		out[i] = s.Key
	}
	return out
}

// MissingSettings returns the required settings of the version the admin
// would activate (the upgrade awaiting consent, else the installed one) that
// have no value: no stored value and no default, or an empty string; a
// secret counts once it is stored.
func (m *Manager) MissingSettings(ctx context.Context, id string) ([]manifest.Setting, error) {
	mf, err := m.displayedManifest(ctx, id)
	if err != nil {
		return nil, err
	}
	return m.missingSettings(ctx, id, mf)
}

func (m *Manager) missingSettings(ctx context.Context, id string, mf *manifest.Manifest) ([]manifest.Setting, error) {
	visible, secrets, err := m.settingValues(ctx, id, mf)
	if err != nil {
		return nil, err
	}
	var out []manifest.Setting
	for _, s := range mf.Settings {
		if !s.Required {
			continue
		}
		if s.Type == manifest.SettingSecret {
			if secrets[s.Key] == "" {
				out = append(out, s)
			}
			continue
		}
		switch v := visible[s.Key].(type) {
		case nil:
			out = append(out, s)
		case string:
			if strings.TrimSpace(v) == "" {
				out = append(out, s)
			}
		}
	}
	return out, nil
}

// ErrNoUpgrade: RejectUpgrade found no upgrade of a running plugin waiting.
var ErrNoUpgrade = errors.New("no upgrade awaits consent")

// RejectUpgrade discards the uploaded version awaiting consent and keeps the
// consented one: nothing the plugin runs changes. The rejected version is
// forgotten (its bundle too, unless another version shares it), so the same
// version can be uploaded again later. A plugin that was never consented
// has nothing to keep: uninstall it instead.
func (m *Manager) RejectUpgrade(ctx context.Context, id string) (*Info, error) {
	var rejected, sha, key string
	err := m.db.Tx(ctx, func(tx *sql.Tx) error {
		r, err := loadRow(ctx, tx, id)
		if err != nil {
			return err
		}
		if !r.pending.Valid || !r.version.Valid {
			if r.pending.Valid {
				return fmt.Errorf("%w: %s was never activated, so there is no running version to keep; uninstall it instead", ErrNoUpgrade, id)
			}
			return fmt.Errorf("%w: %s runs %s and no other version is waiting", ErrNoUpgrade, id, r.version.String)
		}
		rejected, sha = r.pending.String, r.pendingSHA.String
		if err := tx.QueryRowContext(ctx, `SELECT bundle_key FROM plugin_versions WHERE plugin_id = ? AND version = ?`, id, rejected).Scan(&key); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE plugins SET pending_version = NULL, pending_sha256 = NULL, updated_at = ? WHERE id = ?`,
			m.now().UnixMilli(), id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM plugin_versions WHERE plugin_id = ? AND version = ?`, id, rejected); err != nil {
			return err
		}
		var shared int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM plugin_versions WHERE sha256 = ?`, sha).Scan(&shared); err != nil {
			return err
		}
		if shared > 0 {
			key = "" // the same bytes serve another version or plugin
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrNoUpgrade) {
			return nil, err
		}
		return nil, fmt.Errorf("reject upgrade: %w", err)
	}
	if key != "" {
		if err := m.blobs.Delete(ctx, key); err != nil {
			// Content-addressed; a leftover costs disk, not correctness.
			m.log.WarnContext(ctx, "could not delete a rejected plugin bundle", "key", key, "err", err)
		}
	}
	m.log.InfoContext(ctx, "plugin upgrade rejected", "plugin", id, "version", rejected)
	return m.Get(ctx, id)
}
