package cms_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

func TestParseMediaDelivery(t *testing.T) {
	for in, want := range map[string]cms.MediaDelivery{"": cms.DeliverRedirect, "redirect": cms.DeliverRedirect, " Proxy ": cms.DeliverProxy} {
		got, err := cms.ParseMediaDelivery(in)
		if err != nil || got != want {
			t.Errorf("ParseMediaDelivery(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := cms.ParseMediaDelivery("teleport"); err == nil || !strings.Contains(err.Error(), "redirect or proxy") {
		t.Errorf("bad value: %v", err)
	}
}

func TestOpenMediaLibrary(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := storage.OpenSpec(ctx, storagetest.Spec(t, dir), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	lib, err := cms.OpenMediaLibrary(ctx, db, dir, cms.MediaConfig{MaxBytes: 1234}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	if lib.MaxBytes() != 1234 || lib.Store().Describe() != "local "+filepath.Join(dir, "media") {
		t.Fatalf("library: max %d, store %s", lib.MaxBytes(), lib.Store().Describe())
	}
	if st, err := os.Stat(filepath.Join(dir, "media")); err != nil || !st.IsDir() {
		t.Fatalf("default media folder not created: %v", err)
	}
	// Local files are never redirected.
	users := cms.NewUsers(db, cheap)
	u, err := users.Create(ctx, cms.NewUser{Email: "a@example.com", Role: cms.RoleAuthor, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := lib.Upload(ctx, u, cms.MediaUpload{Filename: "a.pdf", Size: storage.UnknownSize, Body: bytes.NewReader(pdfBytes())})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok, err := lib.PresignedURL(ctx, m); ok || err != nil {
		t.Fatalf("local PresignedURL ok=%v err=%v", ok, err)
	}
	if cd := m.ContentDisposition(); cd != `attachment; filename=a.pdf` {
		t.Fatalf("ContentDisposition = %q", cd)
	}

	if _, err := cms.OpenMediaLibrary(ctx, db, dir, cms.MediaConfig{Location: "s3://b?bogus=1"}, nil); err == nil || !strings.Contains(err.Error(), "--media") {
		t.Fatalf("bad location: %v", err)
	}
	// An S3 store that cannot be reached does not stop the site from starting.
	if _, err := cms.OpenMediaLibrary(ctx, db, dir, cms.MediaConfig{Location: "s3://b?endpoint=http://127.0.0.1:1&path-style=true&region=us-east-1",
		PresignTTL: time.Minute}, nil); err != nil {
		t.Fatalf("unreachable S3 at start: %v", err)
	}
}
