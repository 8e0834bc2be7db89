package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// BlobLister is a store that can enumerate its blobs, so blobs that nothing
// references (an upload whose row never got written because the process
// died in between) can be found and removed. Both stores implement it.
type BlobLister interface {
	// List calls fn for every blob, in no particular order; an error from fn
	// stops the listing and is returned.
	List(ctx context.Context, fn func(BlobInfo) error) error
}

// tempPrefix starts the names of LocalStore.Put's temporary files.
const tempPrefix = ".tmp-"

// List implements BlobLister. Temporary files and other dot files are not
// blobs and are skipped, as are names no key could have.
func (s *LocalStore) List(ctx context.Context, fn func(BlobInfo) error) error {
	return s.walk(ctx, func(rel string, d fs.DirEntry) error {
		if strings.HasPrefix(d.Name(), ".") || ValidateBlobKey(rel) != nil {
			return nil
		}
		st, err := d.Info()
		if err != nil {
			return nil // removed under us
		}
		return fn(BlobInfo{Key: rel, Size: st.Size(), ModTime: st.ModTime()})
	})
}

// SweepTemp removes the temporary files of uploads that were cut off (the
// process killed mid-Put) and last written before cutoff. A live upload keeps
// touching its file, so a cutoff well past the upload timeout spares it.
func (s *LocalStore) SweepTemp(ctx context.Context, cutoff time.Time) (int, error) {
	n := 0
	err := s.walk(ctx, func(rel string, d fs.DirEntry) error {
		if !strings.HasPrefix(d.Name(), tempPrefix) {
			return nil
		}
		st, err := d.Info()
		if err != nil || !st.ModTime().Before(cutoff) {
			return nil
		}
		if err := s.root.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("storage: remove temporary file %s: %w", rel, err)
		}
		n++
		return nil
	})
	return n, err
}

// walk visits the regular files under the folder with their slash-separated
// paths. Symlinks are not followed (WalkDir never does) and not visited.
func (s *LocalStore) walk(ctx context.Context, fn func(rel string, d fs.DirEntry) error) error {
	err := filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(s.dir, p)
		if err != nil {
			return err
		}
		return fn(filepath.ToSlash(rel), d)
	})
	if err != nil {
		return fmt.Errorf("storage: list %s: %w", s.dir, err)
	}
	return nil
}

// List implements BlobLister over the objects under the store's prefix.
func (s *S3Store) List(ctx context.Context, fn func(BlobInfo) error) error {
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(s.cfg.Prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.wrap("list", "", err)
		}
		for _, o := range page.Contents {
			key := strings.TrimPrefix(aws.ToString(o.Key), s.cfg.Prefix)
			if ValidateBlobKey(key) != nil {
				continue
			}
			if err := fn(BlobInfo{Key: key, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)}); err != nil {
				return err
			}
		}
	}
	return nil
}
