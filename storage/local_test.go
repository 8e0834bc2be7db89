package storage_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/storage"
)

func newLocal(t *testing.T) *storage.LocalStore {
	t.Helper()
	st, err := storage.NewLocalStore(filepath.Join(t.TempDir(), "media"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestLocalStore(t *testing.T) { testBlobStore(t, newLocal(t)) }

func TestLocalStoreLeavesNoTempFiles(t *testing.T) {
	st := newLocal(t)
	ctx := context.Background()
	if _, err := st.Put(ctx, "ok.bin", bytes.NewReader([]byte("hello")), storage.PutOptions{Size: storage.UnknownSize}); err != nil {
		t.Fatal(err)
	}
	_, _ = st.Put(ctx, "bad.bin", failingReader{}, storage.PutOptions{Size: storage.UnknownSize})
	entries, err := os.ReadDir(st.Dir())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "ok.bin" {
		t.Fatalf("folder holds %v, want only ok.bin", names)
	}
}

// A symlink planted inside the media folder must not let a key read or write
// outside it: os.Root refuses to follow links out of the root.
func TestLocalStoreSymlinkCannotEscape(t *testing.T) {
	st := newLocal(t)
	ctx := context.Background()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.txt")
	if err := os.WriteFile(secret, []byte("top secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(st.Dir(), "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Open(ctx, "link/secret.txt"); err == nil {
		t.Fatal("Open through a symlink out of the root succeeded")
	}
	if _, err := st.Put(ctx, "link/planted.txt", bytes.NewReader([]byte("x")), storage.PutOptions{Size: 1}); err == nil {
		t.Fatal("Put through a symlink out of the root succeeded")
	}
	if _, err := os.Stat(filepath.Join(outside, "planted.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a file was written outside the root: %v", err)
	}
}
