package cms

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// DefaultSweepGrace is how old a temporary file or an unreferenced blob must
// be before the sweep removes it. An upload writes its blob before its row,
// so a fresh blob without a row is normally an upload in flight; an hour is
// far beyond any upload timeout a site would set.
const DefaultSweepGrace = time.Hour

// untrackedSweepEvery spaces the untracked-blob sweeps: listing a large
// bucket is not free, and leaks are rare (a process killed between writing
// a blob and its row).
const untrackedSweepEvery = time.Hour

// BlobReferencer is another owner of blobs in the media store (plugin
// bundles under plugins/): the sweep keeps any key one of them claims.
type BlobReferencer interface {
	ReferencesBlob(ctx context.Context, key string) (bool, error)
}

// AddBlobReferencer registers another owner of blobs in the store. Call it
// before the janitor starts.
func (l *MediaLibrary) AddBlobReferencer(r BlobReferencer) {
	l.sweepMu.Lock()
	defer l.sweepMu.Unlock()
	l.blobRefs = append(l.blobRefs, r)
}

// SweepReport counts what one sweep removed.
type SweepReport struct {
	// TempFiles are interrupted uploads' temporary files (local store).
	TempFiles int
	// Untracked are blobs no row references.
	Untracked int
}

// SweepUntracked removes, once older than grace, the temporary files that
// cut-off uploads left in a local store and the blobs that no media row,
// image variant or other registered owner references. Blobs queued in
// media_blob_deletions are left to the deletion queue.
func (l *MediaLibrary) SweepUntracked(ctx context.Context, grace time.Duration) (SweepReport, error) {
	var rep SweepReport
	cutoff := l.now().Add(-grace)
	if ls, ok := l.store.(interface {
		SweepTemp(context.Context, time.Time) (int, error)
	}); ok {
		n, err := ls.SweepTemp(ctx, cutoff)
		rep.TempFiles = n
		if err != nil {
			return rep, fmt.Errorf("media: sweep temporary files: %w", err)
		}
	}
	lister, ok := l.store.(storage.BlobLister)
	if !ok {
		return rep, nil
	}
	// Collect first, delete after: deleting while a bucket listing pages
	// through can skip keys.
	var candidates []string
	err := lister.List(ctx, func(b storage.BlobInfo) error {
		if b.ModTime.Before(cutoff) {
			candidates = append(candidates, b.Key)
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("media: sweep untracked blobs: %w", err)
	}
	l.sweepMu.Lock()
	refs := append([]BlobReferencer(nil), l.blobRefs...)
	l.sweepMu.Unlock()
	for _, key := range candidates {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		used, err := l.blobReferenced(ctx, key, refs)
		if err != nil {
			return rep, fmt.Errorf("media: sweep untracked blobs: %w", err)
		}
		if used {
			continue
		}
		dctx, cancel := context.WithTimeout(ctx, blobDeleteTimeout)
		err = l.store.Delete(dctx, key)
		cancel()
		if err != nil {
			return rep, fmt.Errorf("media: sweep untracked blob %s: %w", key, err)
		}
		l.log.InfoContext(ctx, "media: removed untracked blob", slog.String("key", key), slog.String("store", l.store.Describe()))
		rep.Untracked++
	}
	return rep, nil
}

// blobReferenced reports whether a row (or another owner) still points at key.
// It reads after the listing, so a row committed in between is seen.
func (l *MediaLibrary) blobReferenced(ctx context.Context, key string, refs []BlobReferencer) (bool, error) {
	var one int
	err := l.db.Read().QueryRowContext(ctx, `SELECT 1 FROM media WHERE storage_key = ?
		UNION ALL SELECT 1 FROM media_variants WHERE storage_key = ?
		UNION ALL SELECT 1 FROM media_blob_deletions WHERE storage_key = ?
		LIMIT 1`, key, key, key).Scan(&one)
	switch {
	case err == nil:
		return true, nil
	case !errors.Is(err, sql.ErrNoRows):
		return false, err
	}
	for _, r := range refs {
		used, err := r.ReferencesBlob(ctx, key)
		if err != nil || used {
			return used, err
		}
	}
	return false, nil
}
