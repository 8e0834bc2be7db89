package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Sentinel errors of the blob stores, for callers to test with errors.Is.
var (
	// ErrBlobNotFound: no blob under that key.
	ErrBlobNotFound = errors.New("blob not found")
	// ErrBlobUnavailable: the store cannot be reached or answered with a server
	// error (network down, 5xx, timeout). Retrying later may work.
	ErrBlobUnavailable = errors.New("blob store unavailable")
	// ErrBlobStore: the store refused the request (bad credentials, missing
	// bucket, ...). Retrying will not help until the configuration is fixed.
	ErrBlobStore = errors.New("blob store refused the request")
	// ErrInvalidBlobKey: a key that is empty, absolute, has ".." or odd characters.
	ErrInvalidBlobKey = errors.New("invalid blob key")
	// ErrPresignUnsupported: the store cannot hand out presigned URLs.
	ErrPresignUnsupported = errors.New("blob store does not presign URLs")
)

// UnknownSize is PutOptions.Size when the length of the body is not known in
// advance (a multipart part, a pipe).
const UnknownSize int64 = -1

// PutOptions describe a blob being written.
type PutOptions struct {
	// ContentType is stored with the blob where the store supports it (S3).
	ContentType string
	// Size is the exact body length, or UnknownSize. A known size lets the S3
	// store stream the body in one PutObject without buffering parts.
	Size int64
}

// BlobInfo describes a stored blob.
type BlobInfo struct {
	Key         string
	Size        int64
	ContentType string
	ModTime     time.Time
}

// BlobReader reads one blob. It seeks, so http.ServeContent can answer Range
// requests from it; for S3 each seek turns into a ranged GET on the next read.
type BlobReader interface {
	io.ReadSeekCloser
	Info() BlobInfo
}

// BlobStore keeps media bytes. Keys are relative, slash-separated paths made
// of letters, digits, '.', '_' and '-' (see ValidateBlobKey).
type BlobStore interface {
	// Put writes the whole of r under key, replacing any blob there. On
	// error no partial blob is readable under key (the local store keeps the
	// previous one; S3 removes whatever the server kept).
	Put(ctx context.Context, key string, r io.Reader, opts PutOptions) (BlobInfo, error)
	// Open returns a reader for the blob, or ErrBlobNotFound.
	Open(ctx context.Context, key string) (BlobReader, error)
	// Stat describes the blob, or returns ErrBlobNotFound.
	Stat(ctx context.Context, key string) (BlobInfo, error)
	// Delete removes the blob. Deleting a missing blob is not an error, so a
	// failed delete can simply be retried.
	Delete(ctx context.Context, key string) error
	// Describe names the store for logs and messages ("local /srv/media",
	// "s3://bucket/prefix"), never with secrets.
	Describe() string
}

// PresignOptions shape the response a presigned GET produces.
type PresignOptions struct {
	ContentType        string
	ContentDisposition string
}

// Presigner is implemented by stores whose blobs clients can fetch directly
// through a time-limited URL.
type Presigner interface {
	PresignGet(ctx context.Context, key string, ttl time.Duration, opts PresignOptions) (string, error)
}

// ValidateBlobKey checks that key is a safe relative path: no empty, "." or
// ".." segments, no leading slash, no backslashes, only [A-Za-z0-9._-] and '/'.
// The local store relies on this (and on os.Root) to keep keys inside its root.
func ValidateBlobKey(key string) error {
	if key == "" || len(key) > 512 {
		return fmt.Errorf("%w: %q must be 1-512 characters", ErrInvalidBlobKey, key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: %q has an empty, '.' or '..' segment", ErrInvalidBlobKey, key)
		}
		for _, c := range seg {
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
			if !ok {
				return fmt.Errorf("%w: %q contains %q", ErrInvalidBlobKey, key, c)
			}
		}
	}
	return nil
}
