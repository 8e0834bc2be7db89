package cms

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// MediaConfig is the media part of a site's configuration, as `pilcrow serve`
// flags give it.
type MediaConfig struct {
	// Location is a folder or an s3:// URL (see storage.ParseBlobLocation);
	// empty means <data>/media.
	Location   string
	MaxBytes   int64
	Delivery   MediaDelivery
	PresignTTL time.Duration
}

// OpenMediaLibrary opens the blob store cfg names and returns the library
// over it. An S3 bucket that cannot be reached is logged, not fatal: the
// site starts, and media requests answer 503 until the bucket is back.
func OpenMediaLibrary(ctx context.Context, db *storage.DB, dataDir string, cfg MediaConfig, log *slog.Logger) (*MediaLibrary, error) {
	if log == nil {
		log = slog.Default()
	}
	bc, err := storage.ParseBlobLocation(cfg.Location, dataDir)
	if err != nil {
		return nil, fmt.Errorf("--media: %w", err)
	}
	store, err := storage.OpenBlobStore(ctx, bc)
	if err != nil {
		return nil, err
	}
	if s3, ok := store.(*storage.S3Store); ok {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := s3.Check(cctx); err != nil {
			log.WarnContext(ctx, "media store is not reachable yet; uploads will fail until it is", slog.String("store", s3.Describe()), slog.Any("err", err))
		}
		cancel()
	}
	log.InfoContext(ctx, "media store", slog.String("store", store.Describe()), slog.Int64("maxBytes", cfg.MaxBytes))
	return NewMediaLibrary(db, store, MediaOptions{MaxBytes: cfg.MaxBytes, Delivery: cfg.Delivery, PresignTTL: cfg.PresignTTL, Logger: log}), nil
}

// Close releases the blob store (the local store holds a folder handle).
func (l *MediaLibrary) Close() error {
	if c, ok := l.store.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
