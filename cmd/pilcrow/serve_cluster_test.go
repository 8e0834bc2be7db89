package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeClusterRefusals: with a PostgreSQL --database the server runs in
// cluster mode and refuses, before it opens anything (no PostgreSQL server is
// needed here), to start without a shared media store and without a
// PILCROW_SECRET_KEY carrying a key id, naming each thing to set.
func TestServeClusterRefusals(t *testing.T) {
	const pg = "postgres://pilcrow@127.0.0.1:1/pilcrow"
	const s3 = "s3://media?endpoint=http://127.0.0.1:1&region=us-east-1&path-style=true"
	const key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	cases := []struct {
		name, secret string
		args         []string
		want, not    []string
	}{
		{"nothing set", "", []string{"--database", pg},
			[]string{"--media (PILCROW_MEDIA) to s3://", "PILCROW_SECRET_KEY=ID:BASE64"}, nil},
		{"a local media folder", "k1:" + key, []string{"--database", pg, "--media", t.TempDir()},
			[]string{"--media (PILCROW_MEDIA) to s3://"}, []string{"PILCROW_SECRET_KEY"}},
		{"no secret key", "", []string{"--database", "postgresql://pilcrow@127.0.0.1:1/pilcrow", "--media", s3},
			[]string{"PILCROW_SECRET_KEY=ID:BASE64", "the same on every node"}, []string{"--media"}},
		{"a secret key without id", key, []string{"--database", pg, "--media", s3},
			[]string{"needs a key id in PILCROW_SECRET_KEY", "PILCROW_PREVIOUS_SECRET_KEYS"}, []string{"--media"}},
		{"a malformed secret key", "k1:short", []string{"--database", pg, "--media", s3},
			[]string{"PILCROW_SECRET_KEY: a key must be ID:BASE64"}, nil},
		{"an unknown database", "", []string{"--database", "mysql://x/y"},
			[]string{"--database: database must be sqlite:PATH or a postgres:// URL"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PILCROW_SECRET_KEY", tc.secret)
			t.Setenv("PILCROW_PREVIOUS_SECRET_KEYS", "")
			var out, errOut syncBuffer
			code := run(context.Background(), append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, tc.args...), strings.NewReader(""), &out, &errOut)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr: %s", code, errOut.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr does not say %q: %s", w, errOut.String())
				}
			}
			for _, n := range tc.not {
				if strings.Contains(errOut.String(), n) {
					t.Errorf("stderr names %q, which is set: %s", n, errOut.String())
				}
			}
			if strings.Contains(out.String(), "listening") {
				t.Fatal("the server started")
			}
		})
	}
	// With both set, the checks pass: what stops the node now is the
	// PostgreSQL server (there is none on port 1), not the configuration.
	t.Run("both set", func(t *testing.T) {
		t.Setenv("PILCROW_SECRET_KEY", "k1:"+key)
		var out, errOut syncBuffer
		code := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--database", pg, "--media", s3}, strings.NewReader(""), &out, &errOut)
		if code == 0 || code == 2 || strings.Contains(errOut.String(), "cluster mode") {
			t.Fatalf("exit %d; stderr: %s", code, errOut.String())
		}
	})
}

// TestServeSQLiteDatabaseFlag: --database sqlite:PATH puts the database at
// PATH instead of <data>/pilcrow.db, for `serve` and `user create` alike.
func TestServeSQLiteDatabaseFlag(t *testing.T) {
	t.Setenv("PILCROW_ADMIN_EMAIL", "")
	t.Setenv("PILCROW_ADMIN_PASSWORD", "")
	data, elsewhere := t.TempDir(), filepath.Join(t.TempDir(), "site.sqlite")
	var out, errOut syncBuffer
	if code := run(context.Background(), []string{"user", "create", "--email", "ed@example.com", "--role", "admin", "--data", data, "--database", "sqlite:" + elsewhere},
		strings.NewReader("a long enough password\n"), &out, &errOut); code != 0 {
		t.Fatalf("user create: exit %d: %s", code, errOut.String())
	}
	if code := run(context.Background(), []string{"user", "create", "--email", "x@example.com", "--role", "admin", "--database", "mysql://x/y"},
		strings.NewReader("a long enough password\n"), &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "--database") {
		t.Fatalf("user create with a bad --database: exit %d: %s", code, errOut.String())
	}
	base, _, stop := startServe(t, "--data", data, "--database", "sqlite:"+elsewhere)
	if code := login(t, base, "ed@example.com", "a long enough password"); code != http.StatusOK {
		t.Fatalf("login: %d", code)
	}
	stop()
	if _, err := os.Stat(filepath.Join(data, "pilcrow.db")); err == nil {
		t.Fatal("a database was made in --data as well")
	}
}
