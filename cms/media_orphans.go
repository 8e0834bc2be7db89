package cms

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"
)

// blobDeleteTimeout bounds one blob delete, which runs after the request's
// own work is done and must not hang it.
const blobDeleteTimeout = 30 * time.Second

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// queueOrphan records that key's blob must be deleted. Queuing inside the
// transaction that drops the row means a crash or store outage between the
// two steps leaves a to-do item, never an untracked blob.
func queueOrphan(ctx context.Context, q execer, key, reason string, now time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO media_blob_deletions (storage_key, reason, queued_at) VALUES (?, ?, ?)
		ON CONFLICT (storage_key) DO NOTHING`, key, reason, now.UTC().UnixMilli())
	if err != nil {
		return fmt.Errorf("media: queue blob deletion: %w", err)
	}
	return nil
}

// removeBlob deletes a queued blob and, once the store confirms, its queue
// entry. On failure the entry stays for SweepOrphans and the error is logged.
func (l *MediaLibrary) removeBlob(ctx context.Context, key string) bool {
	dctx, cancel := context.WithTimeout(ctx, blobDeleteTimeout)
	defer cancel()
	if err := l.store.Delete(dctx, key); err != nil {
		l.log.WarnContext(ctx, "media: blob delete failed; will retry", slog.String("key", key),
			slog.String("store", l.store.Describe()), slog.Any("err", err))
		_, _ = l.db.Write().ExecContext(ctx, `UPDATE media_blob_deletions SET attempts = attempts + 1, last_error = ? WHERE storage_key = ?`,
			err.Error(), key)
		return false
	}
	if _, err := l.db.Write().ExecContext(ctx, `DELETE FROM media_blob_deletions WHERE storage_key = ?`, key); err != nil {
		// Harmless: deleting a missing blob again succeeds.
		l.log.WarnContext(ctx, "media: could not clear blob deletion queue entry", slog.String("key", key), slog.Any("err", err))
	}
	return true
}

// PendingBlobDeletions counts blobs queued for deletion.
func (l *MediaLibrary) PendingBlobDeletions(ctx context.Context) (int, error) {
	var n int
	if err := l.db.Read().QueryRowContext(ctx, `SELECT count(*) FROM media_blob_deletions`).Scan(&n); err != nil {
		return 0, fmt.Errorf("media: count blob deletions: %w", err)
	}
	return n, nil
}

// SweepOrphans retries queued blob deletions and returns how many succeeded.
func (l *MediaLibrary) SweepOrphans(ctx context.Context) (int, error) {
	rows, err := l.db.Read().QueryContext(ctx, `SELECT storage_key FROM media_blob_deletions ORDER BY queued_at LIMIT 500`)
	if err != nil {
		return 0, fmt.Errorf("media: sweep blob deletions: %w", err)
	}
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return 0, fmt.Errorf("media: sweep blob deletions: %w", err)
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("media: sweep blob deletions: %w", err)
	}
	done := 0
	for _, k := range keys {
		if ctx.Err() != nil {
			break
		}
		if l.removeBlob(ctx, k) {
			done++
		}
	}
	return done, nil
}

// RunJanitor sweeps queued blob deletions every interval until ctx ends, and
// at start and hourly (SweepUntracked) the temporary files of cut-off uploads
// and blobs nothing references, older than DefaultSweepGrace. A site runs it
// in the background.
func (l *MediaLibrary) RunJanitor(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var lastUntracked time.Time
	for {
		if lastUntracked.IsZero() || time.Since(lastUntracked) >= untrackedSweepEvery {
			lastUntracked = time.Now()
			rep, err := l.SweepUntracked(ctx, DefaultSweepGrace)
			if err != nil && ctx.Err() == nil {
				l.log.WarnContext(ctx, "media: sweeping untracked blobs failed", slog.Any("err", err))
			}
			if rep.TempFiles > 0 || rep.Untracked > 0 {
				l.log.InfoContext(ctx, "media: swept leftovers", slog.Int("tempFiles", rep.TempFiles), slog.Int("untrackedBlobs", rep.Untracked))
			}
		}
		if n, err := l.SweepOrphans(ctx); err != nil && ctx.Err() == nil {
			l.log.WarnContext(ctx, "media: sweeping blob deletions failed", slog.Any("err", err))
		} else if n > 0 {
			l.log.InfoContext(ctx, "media: deleted queued blobs", slog.Int("count", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
