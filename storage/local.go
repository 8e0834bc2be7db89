package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// LocalStore keeps blobs as files under one folder. All file access goes
// through an os.Root, so neither a crafted key nor a symlink planted inside the
// folder can reach a file outside it.
type LocalStore struct {
	dir  string
	root *os.Root
}

// NewLocalStore opens (creating if needed) the folder dir as a blob store.
func NewLocalStore(dir string) (*LocalStore, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: media folder %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("storage: create media folder: %w", err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("storage: open media folder: %w", err)
	}
	return &LocalStore{dir: abs, root: root}, nil
}

// Dir is the store's folder.
func (s *LocalStore) Dir() string { return s.dir }

// Describe implements BlobStore.
func (s *LocalStore) Describe() string { return "local " + s.dir }

// Check verifies that the folder is still there and readable: its path
// names the folder the store opened (a folder removed, or removed and made
// again, leaves the handle on a deleted directory where every write fails)
// and its entries can be listed.
func (s *LocalStore) Check(_ context.Context) error {
	byPath, err := os.Stat(s.dir)
	if err != nil {
		return fmt.Errorf("storage: media folder: %w", err)
	}
	held, err := s.root.Stat(".")
	if err != nil {
		return fmt.Errorf("storage: media folder: %w", err)
	}
	if !os.SameFile(byPath, held) {
		return fmt.Errorf("storage: media folder %s was replaced since the store opened it", s.dir)
	}
	f, err := s.root.Open(".")
	if err != nil {
		return fmt.Errorf("storage: media folder: %w", err)
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("storage: media folder: read: %w", err)
	}
	return nil
}

// Close releases the folder handle.
func (s *LocalStore) Close() error { return s.root.Close() }

// Put writes r to a temporary file next to the target, fsyncs it, renames it
// into place and fsyncs the folder: a crash leaves either the old blob or the
// complete new one, never a torn file under key. A full disk (ENOSPC, EDQUOT)
// is reported as ErrDiskFull and the partial temporary file is removed.
func (s *LocalStore) Put(ctx context.Context, key string, r io.Reader, opts PutOptions) (BlobInfo, error) {
	if err := ValidateBlobKey(key); err != nil {
		return BlobInfo{}, err
	}
	dir := path.Dir(key)
	if dir != "." {
		if err := s.root.MkdirAll(dir, 0o750); err != nil {
			return BlobInfo{}, markDiskFull(fmt.Errorf("storage: local put %s: %w", key, err))
		}
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(dir, ".tmp-"+hex.EncodeToString(rnd[:]))
	f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return BlobInfo{}, markDiskFull(fmt.Errorf("storage: local put %s: %w", key, err))
	}
	committed := false
	defer func() {
		if !committed {
			_ = f.Close()
			_ = s.root.Remove(tmp)
		}
	}()
	n, err := io.Copy(f, ctxReader{ctx, r})
	if err != nil {
		return BlobInfo{}, markDiskFull(fmt.Errorf("storage: local put %s: %w", key, err))
	}
	if opts.Size >= 0 && n != opts.Size {
		return BlobInfo{}, fmt.Errorf("storage: local put %s: got %d bytes, expected %d", key, n, opts.Size)
	}
	if err := f.Sync(); err != nil {
		return BlobInfo{}, markDiskFull(fmt.Errorf("storage: local put %s: fsync: %w", key, err))
	}
	if err := f.Close(); err != nil {
		return BlobInfo{}, markDiskFull(fmt.Errorf("storage: local put %s: %w", key, err))
	}
	if err := s.root.Rename(tmp, key); err != nil {
		return BlobInfo{}, markDiskFull(fmt.Errorf("storage: local put %s: %w", key, err))
	}
	committed = true
	// Persist the rename itself; without this a power cut can forget it.
	if d, err := s.root.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return s.Stat(ctx, key)
}

// Open implements BlobStore; the reader is the file itself.
func (s *LocalStore) Open(_ context.Context, key string) (BlobReader, error) {
	if err := ValidateBlobKey(key); err != nil {
		return nil, err
	}
	f, err := s.root.Open(key)
	if err != nil {
		return nil, localErr("open", key, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, localErr("open", key, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("storage: local open %s: %w", key, ErrBlobNotFound)
	}
	return &localReader{File: f, info: BlobInfo{Key: key, Size: st.Size(), ModTime: st.ModTime()}}, nil
}

// Stat implements BlobStore.
func (s *LocalStore) Stat(_ context.Context, key string) (BlobInfo, error) {
	if err := ValidateBlobKey(key); err != nil {
		return BlobInfo{}, err
	}
	st, err := s.root.Stat(key)
	if err != nil {
		return BlobInfo{}, localErr("stat", key, err)
	}
	if !st.Mode().IsRegular() {
		return BlobInfo{}, fmt.Errorf("storage: local stat %s: %w", key, ErrBlobNotFound)
	}
	return BlobInfo{Key: key, Size: st.Size(), ModTime: st.ModTime()}, nil
}

// Delete implements BlobStore.
func (s *LocalStore) Delete(_ context.Context, key string) error {
	if err := ValidateBlobKey(key); err != nil {
		return err
	}
	if err := s.root.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: local delete %s: %w", key, err)
	}
	return nil
}

func localErr(op, key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: local %s %s: %w", op, key, ErrBlobNotFound)
	}
	return fmt.Errorf("storage: local %s %s: %w", op, key, err)
}

type localReader struct {
	*os.File
	info BlobInfo
}

func (r *localReader) Info() BlobInfo { return r.info }

// ctxReader stops a long copy when the request that feeds it is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
