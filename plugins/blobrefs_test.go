package plugins

import (
	"context"
	"testing"
)

// The media sweep asks the manager whether a blob is a stored bundle: every
// installed version's bundle is claimed, nothing else is.
func TestManagerReferencesBlob(t *testing.T) {
	r := newRig(t, QueueConfig{})
	ctx := context.Background()
	r.inline(`{"id": "refs", "version": "1.0.0", "name": "Refs", "routes": [{"name": "run"}]}`,
		`export default { routes: { run: () => null } };`)
	var key string
	if err := r.db.Read().QueryRowContext(ctx, `SELECT bundle_key FROM plugin_versions WHERE plugin_id = 'refs'`).Scan(&key); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		key  string
		want bool
	}{{key, true}, {"plugins/0000.zip", false}, {"photo.jpg", false}} {
		if got, err := r.m.ReferencesBlob(ctx, tt.key); err != nil || got != tt.want {
			t.Errorf("ReferencesBlob(%q) = %v, %v; want %v", tt.key, got, err, tt.want)
		}
	}
}
