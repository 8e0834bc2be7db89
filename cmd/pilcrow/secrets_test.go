package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/plugins"
	"github.com/pilcrow-cms/pilcrow/site"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
	"github.com/pilcrow-cms/pilcrow/webhooks"
)

// TestSecretsRotate moves a site from its legacy key file (a bare key, from
// before key ids) to PILCROW_SECRET_KEY=k2:…: `pilcrow secrets rotate`
// re-seals the webhook secret and the plugin secret setting, a second run
// has nothing to move, the values open under k2 alone, and a value under a
// key the site does not hold makes it exit 1 naming the value and the key.
// On SQLite and on PostgreSQL (--database).
func TestSecretsRotate(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testSecretsRotate(t, "") })
	t.Run("postgres", func(t *testing.T) { testSecretsRotate(t, storagetest.PostgresURL(t)) })
}

func testSecretsRotate(t *testing.T, database string) {
	dir := t.TempDir()
	legacy := plugins.SecretKey{Key: bytes.Repeat([]byte{1}, 32)}
	k2 := plugins.SecretKey{ID: "k2", Key: bytes.Repeat([]byte{2}, 32)}
	if err := os.WriteFile(filepath.Join(dir, plugins.SecretKeyFile), []byte(legacy.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PILCROW_SECRET_KEY", "")
	t.Setenv("PILCROW_PREVIOUS_SECRET_KEYS", "")
	ctx := context.Background()
	st, err := site.Open(ctx, site.Config{DataDir: dir, Database: database, Plugins: site.PluginConfig{UnsafeAllowLoopbackEgress: true}})
	if err != nil {
		t.Fatal(err)
	}
	hook, err := st.Webhooks.Create(ctx, webhooks.Input{URL: "http://127.0.0.1:9/hook", Events: []string{webhooks.EntryCreated}}, "")
	if err != nil {
		t.Fatal(err)
	}
	// A plugin's secret setting as UpdateSettings stores it: sealed for
	// (plugin id, setting key), here with the legacy key.
	ls, _ := plugins.NewSealer(legacy)
	const settingCtx = "acme\x00apiKey"
	if _, err := st.DB.Write().Exec(`INSERT INTO plugin_settings (plugin_id, key, value, secret) VALUES ('acme', 'apiKey', ?, 1)`, ls.Seal(settingCtx, "sk_live_1")); err != nil {
		t.Fatal(err)
	}
	st.Close()

	rotate := func() (int, string, string) {
		var out, errOut syncBuffer
		args := []string{"secrets", "rotate", "--data", dir}
		if database != "" {
			args = append(args, "--database", database)
		}
		code := run(ctx, args, strings.NewReader(""), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	t.Setenv("PILCROW_SECRET_KEY", k2.String())
	t.Setenv("PILCROW_PREVIOUS_SECRET_KEYS", legacy.String())
	if code, out, errOut := rotate(); code != 0 || !strings.Contains(out, "2 secrets moved to key k2, 0 already under it") {
		t.Fatalf("rotate: %d %q %q", code, out, errOut)
	}
	if code, out, errOut := rotate(); code != 0 || !strings.Contains(out, "0 secrets moved to key k2, 2 already under it") {
		t.Fatalf("second rotate: %d %q %q", code, out, errOut)
	}
	// The legacy key is retired: everything opens under k2 alone.
	t.Setenv("PILCROW_PREVIOUS_SECRET_KEYS", "")
	st, err = site.Open(ctx, site.Config{DataDir: dir, Database: database})
	if err != nil {
		t.Fatal(err)
	}
	only2, _ := plugins.NewSealer(k2)
	var sealedHook, sealedSetting string
	if err := st.DB.Read().QueryRow(`SELECT secret_sealed FROM webhooks WHERE id = ?`, hook.ID).Scan(&sealedHook); err != nil {
		t.Fatal(err)
	}
	if err := st.DB.Read().QueryRow(`SELECT value FROM plugin_settings WHERE plugin_id = 'acme'`).Scan(&sealedSetting); err != nil {
		t.Fatal(err)
	}
	if got, err := only2.Open("webhook:"+hook.ID, sealedHook); err != nil || got != hook.Secret {
		t.Fatalf("webhook secret under k2: %q, %v", got, err)
	}
	if got, err := only2.Open(settingCtx, sealedSetting); err != nil || got != "sk_live_1" {
		t.Fatalf("plugin secret under k2: %q, %v", got, err)
	}
	// A value under a key this site does not hold is named, and the run fails.
	k9, _ := plugins.NewSealer(plugins.SecretKey{ID: "k9", Key: bytes.Repeat([]byte{9}, 32)})
	if _, err := st.DB.Write().Exec(`INSERT INTO plugin_settings (plugin_id, key, value, secret) VALUES ('other', 'token', ?, 1)`, k9.Seal("other\x00token", "x")); err != nil {
		t.Fatal(err)
	}
	st.Close()
	code, _, errOut := rotate()
	if code != 1 || !strings.Contains(errOut, `plugin other setting "token"`) || !strings.Contains(errOut, `key id "k9"`) {
		t.Fatalf("rotate with an unknown key: %d %q", code, errOut)
	}
	// A usage error is exit 2.
	if code := run(ctx, []string{"secrets", "spin"}, strings.NewReader(""), &syncBuffer{}, &syncBuffer{}); code != 2 {
		t.Fatalf("unknown subcommand: exit %d", code)
	}
}
