package webhooks

import (
	"context"
	"database/sql"
	"fmt"
)

// ResealSecrets moves every webhook's signing secret sealed with an older key
// to the current one (`pilcrow secrets rotate`), reporting each value's
// outcome to add. A value is replaced only if it is still the one read.
func (s *Service) ResealSecrets(ctx context.Context, add func(name string, moved bool, err error)) error {
	type row struct{ id, sealed string }
	rows, err := s.opt.DB.Read().QueryContext(ctx, `SELECT id, secret_sealed FROM webhooks ORDER BY id`)
	if err != nil {
		return fmt.Errorf("webhooks: reseal: %w", err)
	}
	var all []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.sealed); err != nil {
			rows.Close()
			return fmt.Errorf("webhooks: reseal: %w", err)
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("webhooks: reseal: %w", err)
	}
	for _, r := range all {
		out, moved, err := s.opt.Sealer.Reseal(sealContext(r.id), r.sealed)
		if err == nil && moved {
			// Unchanged rows only: a false moved means it changed since.
			var res sql.Result
			if res, err = s.opt.DB.Write().ExecContext(ctx, `UPDATE webhooks SET secret_sealed = ? WHERE id = ? AND secret_sealed = ?`, out, r.id, r.sealed); err == nil {
				var n int64
				n, err = res.RowsAffected()
				moved = n == 1
			}
		}
		add("webhook "+r.id, moved, err)
	}
	return nil
}
