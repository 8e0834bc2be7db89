package plugins

import (
	"context"
	"database/sql"
	"fmt"
)

// ResealSecrets moves every secret setting sealed with an older key to the
// current one (`pilcrow secrets rotate`), so the older key can be retired.
// Each value is replaced only if it is still the one read, so a setting an
// admin saves meanwhile (sealed with the current key already) is kept.
func (m *Manager) ResealSecrets(ctx context.Context, r *Resealed) error {
	type row struct{ plugin, key, value string }
	rows, err := m.db.Read().QueryContext(ctx, `SELECT plugin_id, key, value FROM plugin_settings WHERE secret = 1 ORDER BY plugin_id, key`)
	if err != nil {
		return fmt.Errorf("reseal plugin secrets: %w", err)
	}
	var all []row
	for rows.Next() {
		var x row
		if err := rows.Scan(&x.plugin, &x.key, &x.value); err != nil {
			rows.Close()
			return fmt.Errorf("reseal plugin secrets: %w", err)
		}
		all = append(all, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reseal plugin secrets: %w", err)
	}
	for _, x := range all {
		name := fmt.Sprintf("plugin %s setting %q", x.plugin, x.key)
		out, moved, err := m.sealer.Reseal(sealContext(x.plugin, x.key), x.value)
		if err == nil && moved {
			moved, err = storeResealed(ctx, m.db.Write(), `UPDATE plugin_settings SET value = ? WHERE plugin_id = ? AND key = ? AND secret = 1 AND value = ?`,
				out, x.plugin, x.key, x.value)
			m.forgetSettings(x.plugin)
		}
		r.Add(name, moved, err)
	}
	return nil
}

// storeResealed runs a compare-and-set update of one resealed value; false
// when the row changed (or went) since it was read: what replaced it was
// sealed with the current key.
func storeResealed(ctx context.Context, db *sql.DB, query string, args ...any) (bool, error) {
	res, err := db.ExecContext(ctx, query, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
