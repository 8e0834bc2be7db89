package plugins

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/storage"
)

// maxSettingLength bounds one text setting.
const maxSettingLength = 10_000

// SettingsView is a plugin's settings form and current values. Secret values
// never appear: SecretsSet only says which secrets have a value.
type SettingsView struct {
	Fields     []manifest.Setting `json:"fields"`
	Values     map[string]any     `json:"values"`
	SecretsSet []string           `json:"secretsSet"`
	// AllowedHosts are, for the allowedHostsFromSettings settings, the host
	// the saved value lets the plugin send requests to ("" while unset),
	// written as the origin it allows ("https://hooks.example.com").
	AllowedHosts map[string]string `json:"allowedHosts,omitempty"`
}

func sealContext(id, key string) string { return id + "\x00" + key }

// cachedSettings are a plugin's stored settings as read at one generation
// of the plugin_settings topic, which every write of them bumps (in any
// process sharing the database): a change is seen here at once when made
// here, and within a re-check of the generations when made elsewhere.
type cachedSettings struct {
	rows []settingRow
	at   time.Time // when read: identifies the entry (see Manager.setup)
	gen  uint64
	// setup is what invocations derive from rows and the running manifest,
	// computed by the first invocation after rows were read (nil before).
	setup *invocationSetup
}

type settingRow struct {
	key, value string
	secret     bool
}

func (m *Manager) forgetSettings(id string) {
	m.settingsMu.Lock()
	delete(m.settingsCache, id)
	m.settingsMu.Unlock()
}

// settingRows reads a plugin's stored settings, from a short-lived cache: every
// invocation needs them, and they rarely change.
func (m *Manager) settingRows(ctx context.Context, id string) ([]settingRow, error) {
	c, err := m.cachedSettingRows(ctx, id)
	return c.rows, err
}

// cachedSettingRows is settingRows with the cache entry they came from.
func (m *Manager) cachedSettingRows(ctx context.Context, id string) (cachedSettings, error) {
	// Read before the query: a write committed after it moves the topic
	// past what this entry is stored under.
	gen := m.db.Topic(storage.TopicPluginSettings).Current()
	m.settingsMu.Lock()
	c, ok := m.settingsCache[id]
	m.settingsMu.Unlock()
	if ok && c.gen == gen {
		return c, nil
	}
	rows, at, err := m.readSettingRows(ctx, id)
	if err != nil {
		return cachedSettings{}, err
	}
	c = cachedSettings{rows: rows, at: at, gen: gen}
	m.settingsMu.Lock()
	if m.settingsCache == nil {
		m.settingsCache = map[string]cachedSettings{}
	}
	m.settingsCache[id] = c
	m.settingsMu.Unlock()
	return c, nil
}

// readSettingRows reads a plugin's stored settings from the database, and
// the time of the read.
func (m *Manager) readSettingRows(ctx context.Context, id string) ([]settingRow, time.Time, error) {
	at := m.now()
	rows, err := m.db.Read().QueryContext(ctx, `SELECT key, value, secret FROM plugin_settings WHERE plugin_id = ?`, id)
	if err != nil {
		return nil, at, fmt.Errorf("settings of %s: %w", id, err)
	}
	defer rows.Close()
	var out []settingRow
	for rows.Next() {
		var r settingRow
		if err := rows.Scan(&r.key, &r.value, &r.secret); err != nil {
			return nil, at, fmt.Errorf("settings of %s: %w", id, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, at, err
	}
	return out, at, nil
}

// settingValues returns the plugin-visible values (with defaults) and the
// opened secrets, keyed by setting key.
func (m *Manager) settingValues(ctx context.Context, id string, mf *manifest.Manifest) (map[string]any, map[string]string, error) {
	stored, err := m.settingRows(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return m.decodeSettings(id, mf, stored)
}

// decodeSettings turns stored rows into the plugin-visible values (with
// defaults) and the opened secrets.
func (m *Manager) decodeSettings(id string, mf *manifest.Manifest, stored []settingRow) (map[string]any, map[string]string, error) {
	visible, secrets := map[string]any{}, map[string]string{}
	for _, r := range stored {
		key, value, secret := r.key, r.value, r.secret
		if secret {
			v, err := m.sealer.Open(sealContext(id, key), value)
			if err != nil {
				return nil, nil, fmt.Errorf("secret setting %q of %s: %w", key, id, err)
			}
			secrets[key] = v
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(value), &v); err == nil {
			visible[key] = v
		}
	}
	for _, s := range mf.Settings {
		if s.Type == manifest.SettingSecret && s.Exposed {
			if v, ok := secrets[s.Key]; ok {
				visible[s.Key] = v
			}
		}
		if _, ok := visible[s.Key]; !ok && s.Default != nil && s.Type != manifest.SettingSecret {
			visible[s.Key] = s.Default
		}
	}
	// Keys no longer in the manifest (an upgrade removed them) stay stored but
	// are not shown to the plugin.
	for k := range visible {
		if !slices.ContainsFunc(mf.Settings, func(s manifest.Setting) bool { return s.Key == k }) {
			delete(visible, k)
		}
	}
	return visible, secrets, nil
}

// displayedManifest is the manifest whose form the admin sees: the version
// awaiting consent if any, else the running one.
func (m *Manager) displayedManifest(ctx context.Context, id string) (*manifest.Manifest, error) {
	r, err := loadRow(ctx, m.db.Read(), id)
	if err != nil {
		return nil, err
	}
	v := r.version.String
	if r.pending.Valid {
		v = r.pending.String
	}
	return versionManifest(ctx, m.db.Read(), id, v)
}

// Settings returns the settings form and values of a plugin.
func (m *Manager) Settings(ctx context.Context, id string) (*SettingsView, error) {
	mf, err := m.displayedManifest(ctx, id)
	if err != nil {
		return nil, err
	}
	visible, secrets, err := m.settingValues(ctx, id, mf)
	if err != nil {
		return nil, err
	}
	view := &SettingsView{Fields: mf.Settings, Values: map[string]any{}, SecretsSet: []string{}}
	if view.Fields == nil {
		view.Fields = []manifest.Setting{}
	}
	if keys := mf.HostsFromSettings(); len(keys) > 0 {
		view.AllowedHosts = map[string]string{}
		hosts := settingHosts(mf, visible)
		for _, key := range keys {
			view.AllowedHosts[key] = ""
			if p, ok := hosts[key]; ok {
				view.AllowedHosts[key] = "https://" + p.String()
			}
		}
	}
	for _, s := range mf.Settings {
		if s.Type == manifest.SettingSecret {
			if _, ok := secrets[s.Key]; ok {
				view.SecretsSet = append(view.SecretsSet, s.Key)
			}
			continue
		}
		if v, ok := visible[s.Key]; ok {
			view.Values[s.Key] = v
		}
	}
	return view, nil
}

// UpdateSettings changes some settings. A null value clears a setting (a
// required one cannot be cleared). Every problem is reported at once, and
// nothing is written unless all values are valid.
func (m *Manager) UpdateSettings(ctx context.Context, id string, values map[string]json.RawMessage) (*SettingsView, error) {
	mf, err := m.displayedManifest(ctx, id)
	if err != nil {
		return nil, err
	}
	type write struct {
		key, value string
		secret     bool
		clear      bool
	}
	var writes []write
	var v cms.ValidationError
	for key, raw := range values {
		path := "/" + key
		i := slices.IndexFunc(mf.Settings, func(s manifest.Setting) bool { return s.Key == key })
		if i < 0 {
			v.Add(path, "is not a setting of this plugin")
			continue
		}
		s := mf.Settings[i]
		if string(raw) == "null" {
			if s.Required {
				v.Add(path, "is required")
				continue
			}
			writes = append(writes, write{key: key, clear: true})
			continue
		}
		val, msg := checkSetting(s, raw)
		if msg == "" && slices.Contains(mf.HostsFromSettings(), key) {
			if str, _ := val.(string); str != "" {
				if _, err := manifest.SettingHost(str); err != nil {
					msg = "names the host the plugin may send requests to: " + err.Error()
				}
			}
		}
		if msg != "" {
			v.Add(path, msg)
			continue
		}
		if s.Type == manifest.SettingSecret {
			writes = append(writes, write{key: key, value: m.sealer.Seal(sealContext(id, key), val.(string)), secret: true})
			continue
		}
		b, _ := json.Marshal(val)
		writes = append(writes, write{key: key, value: string(b)})
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	err = m.db.Tx(ctx, func(tx *sql.Tx) error {
		for _, w := range writes {
			var err error
			if w.clear {
				_, err = tx.ExecContext(ctx, `DELETE FROM plugin_settings WHERE plugin_id = ? AND key = ?`, id, w.key)
			} else {
				_, err = tx.ExecContext(ctx, `INSERT INTO plugin_settings (plugin_id, key, value, secret) VALUES (?, ?, ?, ?)
					ON CONFLICT (plugin_id, key) DO UPDATE SET value = excluded.value, secret = excluded.secret`, id, w.key, w.value, w.secret)
			}
			if err != nil {
				return err
			}
		}
		return m.db.Bump(ctx, tx, storage.TopicPluginSettings)
	})
	m.forgetSettings(id)
	if err != nil {
		return nil, fmt.Errorf("update settings: %w", err)
	}
	return m.Settings(ctx, id)
}

// checkSetting validates one value against its field and returns it as stored.
func checkSetting(s manifest.Setting, raw json.RawMessage) (any, string) {
	switch s.Type {
	case manifest.SettingNumber:
		var n float64
		if json.Unmarshal(raw, &n) != nil {
			return nil, "must be a number"
		}
		return n, ""
	case manifest.SettingBoolean:
		var b bool
		if json.Unmarshal(raw, &b) != nil {
			return nil, "must be true or false"
		}
		return b, ""
	}
	var str string
	if json.Unmarshal(raw, &str) != nil {
		return nil, "must be a string"
	}
	// Stored escaped as JSON it would fit, but a setting is text for a
	// header, a URL or an address, none of which may hold NUL.
	if strings.IndexByte(str, 0) >= 0 {
		return nil, "must not contain a NUL character"
	}
	if utf8.RuneCountInString(str) > maxSettingLength {
		return nil, fmt.Sprintf("must be at most %d characters", maxSettingLength)
	}
	if s.Required && str == "" {
		return nil, "is required"
	}
	switch s.Type {
	case manifest.SettingSelect:
		if !slices.ContainsFunc(s.Options, func(o manifest.Option) bool { return o.Value == str }) {
			return nil, "must be one of the field's options"
		}
	case manifest.SettingURL:
		u, err := url.Parse(str)
		if str != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
			return nil, "must be an http or https URL"
		}
	case manifest.SettingEmail:
		if a, err := mail.ParseAddress(str); str != "" && (err != nil || a.Address != str) {
			return nil, "must be an email address"
		}
	}
	return str, ""
}
