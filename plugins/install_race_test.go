package plugins

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
)

// packInline packs a bundle of a manifest and an already built script.
func packInline(t *testing.T, manifestJSON, script string) []byte {
	t.Helper()
	var zip bytes.Buffer
	if _, err := bundle.Write(&zip, &bundle.Bundle{ManifestJSON: []byte(manifestJSON), Script: []byte(script)}); err != nil {
		t.Fatal(err)
	}
	return zip.Bytes()
}

// Versions are immutable even when two installs of one version race: of
// two different bundles of it uploaded at once, one is installed and the
// other refused with ErrVersionExists (never a raw constraint error); the
// same bundle uploaded twice at once is installed once, both succeeding.
// Two processes sharing the database race here, as two nodes would.
func TestConcurrentInstallsOfOneVersion(t *testing.T) {
	r := newRig(t, QueueConfig{})
	other := r.newManager(r.openAgain())
	ctx := context.Background()
	for round := range 5 {
		// A fresh version each round; both managers install it at once.
		version := []string{"1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4"}[round]
		mfv := `{"id": "racer", "version": "` + version + `", "name": "racer", "capabilities": ["content:read"], "hooks": ["content:afterSave"]}`
		a := packInline(t, mfv, `globalThis.__pilcrow = { default: { hooks: { "content:afterSave": () => "a`+version+`" } } };`)
		b := packInline(t, mfv, `globalThis.__pilcrow = { default: { hooks: { "content:afterSave": () => "b`+version+`" } } };`)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, m := range []*Manager{r.m, other} {
			wg.Go(func() { _, errs[i] = m.Install(ctx, [][]byte{a, b}[i], "admin", false) })
		}
		wg.Wait()
		ok, refused := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrVersionExists):
				refused++
			default:
				t.Fatalf("round %d: install failed with %v, want success or ErrVersionExists", round, err)
			}
		}
		if ok != 1 || refused != 1 {
			t.Fatalf("round %d: %d installed and %d refused (%v), want one of each", round, ok, refused, errs)
		}

		// The same bytes twice at once: both succeed, one version row.
		twinID := "twin-" + version[len(version)-1:]
		mfs := `{"id": "` + twinID + `", "version": "2.0.0", "name": "twin", "capabilities": ["content:read"], "hooks": ["content:afterSave"]}`
		twin := packInline(t, mfs, `globalThis.__pilcrow = { default: { hooks: { "content:afterSave": () => 1 } } };`)
		for i, m := range []*Manager{r.m, other} {
			wg.Go(func() { _, errs[i] = m.Install(ctx, twin, "admin", false) })
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("round %d: the same bundle installed twice at once: %v", round, errs)
		}
		var n int
		if err := r.db.Read().QueryRowContext(ctx, `SELECT count(*) FROM plugin_versions WHERE plugin_id = ?`, twinID).Scan(&n); err != nil || n != 1 {
			t.Fatalf("round %d: %d version rows of the twin (%v), want 1", round, n, err)
		}
	}
}
