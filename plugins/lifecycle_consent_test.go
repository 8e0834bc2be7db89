package plugins

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/plugins/authoring"
	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
	"github.com/pilcrow-cms/pilcrow/storage"
)

// upload builds an inline plugin and installs it without activating.
func (r *rig) upload(manifestJSON, js string) *Info {
	r.t.Helper()
	dir := r.t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(manifestJSON), 0o644); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "src", "plugin.js"), []byte(js), 0o644); err != nil {
		r.t.Fatal(err)
	}
	res, err := authoring.Build(context.Background(), dir)
	if err != nil {
		r.t.Fatal(err)
	}
	var zip bytes.Buffer
	if _, err := bundle.Write(&zip, &bundle.Bundle{ManifestJSON: []byte(manifestJSON), Script: res.Script}); err != nil {
		r.t.Fatal(err)
	}
	info, err := r.m.Install(context.Background(), zip.Bytes(), "admin", false)
	if err != nil {
		r.t.Fatalf("install: %v", err)
	}
	return info
}

func grantOf(info *Info) Grant {
	caps := make([]string, len(info.Consent.Capabilities))
	for i, c := range info.Consent.Capabilities {
		caps[i] = string(c)
	}
	return Grant{Capabilities: caps, AllowedHosts: info.Consent.AllowedHosts}
}

const requiredSettingsManifest = `{"id": "needs", "version": "1.0.0", "name": "Needs settings", "settings": [
	{"key": "url", "label": "Receiver URL", "type": "url", "required": true},
	{"key": "token", "label": "Token", "type": "secret", "required": true},
	{"key": "mode", "label": "Mode", "type": "string", "required": true, "default": "fast"},
	{"key": "note", "label": "Note", "type": "string"}]}`

// Activation is refused while a required setting is empty, naming each
// one; a default counts as a value, a stored secret too.
func TestActivateNeedsRequiredSettings(t *testing.T) {
	r := newRig(t, QueueConfig{})
	ctx := context.Background()
	info := r.upload(requiredSettingsManifest, `export default {};`)

	_, err := r.m.Activate(ctx, info.ID, grantOf(info), "admin")
	var ms *MissingSettingsError
	if !errors.As(err, &ms) || !errors.Is(err, ErrSettingsRequired) {
		t.Fatalf("activate with empty required settings: %v", err)
	}
	if !slices.Equal(ms.Keys(), []string{"url", "token"}) || !strings.Contains(err.Error(), `"Receiver URL" (url)`) {
		t.Fatalf("missing = %v (%v)", ms.Keys(), err)
	}
	if got, _ := r.m.Get(ctx, info.ID); got.Status != StatusInstalled {
		t.Fatalf("refused activation changed the status to %s", got.Status)
	}

	r.settings(info.ID, map[string]any{"url": "https://hooks.example.com/in"})
	missing, err := r.m.MissingSettings(ctx, info.ID)
	if err != nil || len(missing) != 1 || missing[0].Key != "token" {
		t.Fatalf("MissingSettings after the url = %+v, %v", missing, err)
	}
	r.settings(info.ID, map[string]any{"token": "s3cret"})
	if got, err := r.m.Activate(ctx, info.ID, grantOf(info), "admin"); err != nil || got.Status != StatusActive {
		t.Fatalf("activate with every required setting: %+v, %v", got, err)
	}
}

// Rejecting a pending upgrade keeps the running version, forgets the
// upload (the same version can be uploaded again) and refuses when there is
// nothing to reject.
func TestRejectUpgrade(t *testing.T) {
	r := newRig(t, QueueConfig{})
	ctx := context.Background()
	v1 := `{"id": "grow", "version": "1.0.0", "name": "Grow", "capabilities": []}`
	v2 := `{"id": "grow", "version": "1.1.0", "name": "Grow", "capabilities": ["content:read"], "hooks": ["content:afterSave"]}`
	info := r.upload(v1, `export default {};`)
	if _, err := r.m.RejectUpgrade(ctx, "grow"); !errors.Is(err, ErrNoUpgrade) || !strings.Contains(err.Error(), "never activated") {
		t.Fatalf("reject before any consent: %v", err)
	}
	if _, err := r.m.Activate(ctx, info.ID, grantOf(info), "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.RejectUpgrade(ctx, "grow"); !errors.Is(err, ErrNoUpgrade) {
		t.Fatalf("reject with nothing pending: %v", err)
	}
	up := r.upload(v2, `export default { hooks: { "content:afterSave": () => {} } };`)
	if up.Upgrade == nil || up.Upgrade.To != "1.1.0" {
		t.Fatalf("upload of 1.1.0 = %+v", up)
	}
	got, err := r.m.RejectUpgrade(ctx, "grow")
	if err != nil {
		t.Fatal(err)
	}
	if got.Upgrade != nil || got.Status != StatusActive || got.Version != "1.0.0" || got.Running != "1.0.0" {
		t.Fatalf("after rejecting: %+v", got)
	}
	ap, err := r.m.activePlugin(ctx, "grow")
	if err != nil || ap.Manifest.Version != "1.0.0" {
		t.Fatalf("running after rejecting: %v, %v", ap, err)
	}
	if _, err := r.blobs.Stat(ctx, "plugins/"+up.SHA256+".zip"); !errors.Is(err, storage.ErrBlobNotFound) {
		t.Errorf("the rejected bundle is kept: %v", err)
	}
	// Forgotten: the same version uploads again and waits for consent.
	again := r.upload(v2, `export default { hooks: { "content:afterSave": () => { /* changed */ } } };`)
	if again.Upgrade == nil || again.Upgrade.To != "1.1.0" {
		t.Fatalf("re-upload after rejecting = %+v", again)
	}
}

// A retried after hook's log rows say which attempt each was.
func TestQueueLogsAttempts(t *testing.T) {
	r := newRig(t, QueueConfig{Delays: []time.Duration{time.Minute, time.Minute}})
	ctx := context.Background()
	r.inline(hookPlugin("flaky", `["content:read"]`, `["content:afterSave"]`),
		`export default { hooks: { "content:afterSave": () => { throw new Error("receiver down"); } } };`)
	if err := r.afterSave("e1", false); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if ran, err := r.q.RunOnce(ctx); !ran || err != nil {
			t.Fatalf("RunOnce = %v, %v", ran, err)
		}
		r.advance(time.Minute)
	}
	r.flushLogs()
	page, err := r.logs.Query(ctx, "flaky", LogQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var got []Attempt
	for _, l := range page.Items {
		got = append(got, Attempt{l.Attempt, l.Attempts})
	}
	if want := []Attempt{{3, 3}, {2, 3}, {1, 3}}; !slices.Equal(got, want) {
		t.Fatalf("attempts newest first = %v, want %v", got, want)
	}
}
