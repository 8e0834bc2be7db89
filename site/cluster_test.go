package site

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/plugins"
)

// TestOpenSealerSaysWhenTheKeyFileIsUnused: once PILCROW_SECRET_KEY is set,
// a secret.key in the data folder seals and opens nothing; the log says so
// (what it sealed is lost until it is listed), unless it is among the keys.
func TestOpenSealerSaysWhenTheKeyFileIsUnused(t *testing.T) {
	dir := t.TempDir()
	file := plugins.SecretKey{ID: "local-1", Key: bytes.Repeat([]byte{1}, 32)}
	if err := os.WriteFile(filepath.Join(dir, plugins.SecretKeyFile), []byte(file.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := plugins.SecretKey{ID: "k1", Key: bytes.Repeat([]byte{2}, 32)}
	cases := []struct {
		prev string
		warn bool
	}{
		{"", true},
		{file.String(), false},
		// The file's key listed without its id (as a legacy key) still counts.
		{plugins.SecretKey{Key: file.Key}.String(), false},
	}
	for _, tc := range cases {
		t.Setenv(plugins.EnvSecretKey, env.String())
		t.Setenv(plugins.EnvPreviousSecretKeys, tc.prev)
		var logs bytes.Buffer
		s, err := openSealer(dir, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		if s.CurrentKeyID() != "k1" {
			t.Fatalf("current key %q", s.CurrentKeyID())
		}
		if got := strings.Contains(logs.String(), "secret.key in the data folder is not used"); got != tc.warn {
			t.Errorf("previous %q: warned %v, want %v: %s", tc.prev, got, tc.warn, logs.String())
		}
	}
}
