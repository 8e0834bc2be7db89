package cms_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

// claimPrefix is a second blob owner, as the plugin manager is for bundles.
type claimPrefix string

func (c claimPrefix) ReferencesBlob(_ context.Context, key string) (bool, error) {
	return strings.HasPrefix(key, string(c)), nil
}

// The sweep removes, past the grace period, interrupted uploads' temporary
// files and blobs nothing references; it keeps media originals, their
// variants, queued deletions, blobs other owners claim, and anything fresh.
func TestMediaSweepUntrackedLocal(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := storage.OpenSpec(ctx, storagetest.Spec(t, dir), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	mediaDir := filepath.Join(dir, "media")
	local, err := storage.NewLocalStore(mediaDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	lib := cms.NewMediaLibrary(db, local, cms.MediaOptions{References: &fakeRefs{}})
	lib.AddBlobReferencer(claimPrefix("plugins/"))
	users := cms.NewUsers(db, cheap)
	u, err := users.Create(ctx, cms.NewUser{Email: "a@example.com", Name: "a", Role: cms.RoleAdmin, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	img, err := lib.Upload(ctx, u, cms.MediaUpload{Filename: "dot.png", Size: storage.UnknownSize, Body: bytes.NewReader(pngBytes(t, 8, 8))})
	if err != nil {
		t.Fatal(err)
	}
	v, err := lib.Variant(ctx, img, cms.VariantSpec{W: 4})
	if err != nil {
		t.Fatal(err)
	}
	v.Close()
	if _, err := db.Write().ExecContext(ctx, `INSERT INTO media_blob_deletions (storage_key, reason, queued_at) VALUES ('queued.pdf', 'test', 0)`); err != nil {
		t.Fatal(err)
	}

	write := func(rel string) {
		p := filepath.Join(mediaDir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("bytes of "+rel), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	for _, rel := range []string{"orphan.pdf", "sub/orphan2.pdf", "plugins/abc.zip", "queued.pdf",
		".tmp-0011223344556677", "plugins/.tmp-8899aabbccddeeff", "fresh.pdf", "sub/.tmp-fresh"} {
		write(rel)
	}
	// Everything but the fresh ones is two hours old.
	old := time.Now().Add(-2 * time.Hour)
	filepath.WalkDir(mediaDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.Contains(p, "fresh") {
			os.Chtimes(p, old, old)
		}
		return nil
	})

	rep, err := lib.SweepUntracked(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if rep.TempFiles != 2 || rep.Untracked != 2 {
		t.Errorf("report %+v, want 2 temporary files and 2 untracked blobs", rep)
	}
	var left []string
	filepath.WalkDir(mediaDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(mediaDir, p)
			left = append(left, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(left)
	want := []string{"sub/.tmp-fresh", img.StorageKey, "fresh.pdf", "plugins/abc.zip", "queued.pdf"}
	// The variant's key is whatever Variant chose, under variants/.
	var variants int
	for _, k := range left {
		if strings.HasPrefix(k, "variants/") {
			variants++
		}
	}
	if variants != 1 {
		t.Errorf("variants left %d, want 1: %v", variants, left)
	}
	for _, k := range want {
		if !contains(left, k) {
			t.Errorf("%s was swept; left %v", k, left)
		}
	}
	for _, k := range []string{"orphan.pdf", "sub/orphan2.pdf", ".tmp-0011223344556677", "plugins/.tmp-8899aabbccddeeff"} {
		if contains(left, k) {
			t.Errorf("%s survived the sweep", k)
		}
	}
	// The original and its variant still read back.
	if r, err := lib.OpenFile(ctx, img); err != nil {
		t.Errorf("open original after sweep: %v", err)
	} else {
		r.Close()
	}

	// A second sweep finds nothing more.
	if rep, err := lib.SweepUntracked(ctx, time.Hour); err != nil || rep != (cms.SweepReport{}) {
		t.Errorf("second sweep: %+v, %v", rep, err)
	}
}

func contains(xs []string, x string) bool { return slices.Contains(xs, x) }
