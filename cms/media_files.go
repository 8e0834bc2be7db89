package cms

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"strings"
	"time"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// Inline reports whether browsers should display the file in place. Images,
// audio and video are safe to show inline (served with nosniff); anything else
// (PDF) is sent as an attachment so it cannot act as a page of the site.
func (m *Media) Inline() bool {
	return strings.HasPrefix(m.MimeType, "image/") || strings.HasPrefix(m.MimeType, "video/") || strings.HasPrefix(m.MimeType, "audio/")
}

// ContentDisposition is the header value the file is served with.
func (m *Media) ContentDisposition() string {
	kind := "attachment"
	if m.Inline() {
		kind = "inline"
	}
	if v := mime.FormatMediaType(kind, map[string]string{"filename": m.Filename}); v != "" {
		return v
	}
	return kind
}

// PresignedURL returns a time-limited direct URL for the file when the store
// can presign and delivery is DeliverRedirect; ok is false otherwise, and the
// caller should stream the file with OpenFile instead.
func (l *MediaLibrary) PresignedURL(ctx context.Context, m *Media) (url string, ttl time.Duration, ok bool, err error) {
	p, can := l.store.(storage.Presigner)
	if !can || l.delivery != DeliverRedirect {
		return "", 0, false, nil
	}
	url, err = p.PresignGet(ctx, m.StorageKey, l.presignTTL, storage.PresignOptions{
		ContentType: m.MimeType, ContentDisposition: m.ContentDisposition(),
	})
	if err != nil {
		return "", 0, false, fmt.Errorf("media %s: %w", m.ID, err)
	}
	return url, l.presignTTL, true, nil
}

// OpenFile opens the item's bytes. A row whose blob is missing is logged (the
// store and database disagree) and reported as ErrNotFound.
func (l *MediaLibrary) OpenFile(ctx context.Context, m *Media) (storage.BlobReader, error) {
	r, err := l.store.Open(ctx, m.StorageKey)
	if errors.Is(err, storage.ErrBlobNotFound) {
		l.log.ErrorContext(ctx, "media: row without its blob", "id", m.ID, "key", m.StorageKey, "store", l.store.Describe())
		return nil, notFoundf("the file of media item %s is missing from the store", m.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("media %s: %w", m.ID, err)
	}
	return r, nil
}
