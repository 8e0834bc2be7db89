package plugins

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealerRoundTripAndBinding(t *testing.T) {
	for _, id := range []string{"k1", ""} { // with a key id, and the legacy key
		s, err := NewSealer(SecretKey{ID: id, Key: make([]byte, 32)})
		if err != nil {
			t.Fatal(err)
		}
		sealed := s.Seal(sealContext("a", "token"), "s3cret")
		if strings.Contains(sealed, "s3cret") {
			t.Fatal("sealed value contains the plaintext")
		}
		if KeyID(sealed) != id || (id != "" && !strings.HasPrefix(sealed, id+":")) {
			t.Fatalf("sealed value %q does not name key %q", sealed, id)
		}
		if got, err := s.Open(sealContext("a", "token"), sealed); err != nil || got != "s3cret" {
			t.Fatalf("open = %q, %v", got, err)
		}
		// A sealed value copied to another plugin's row does not open there.
		if _, err := s.Open(sealContext("b", "token"), sealed); err == nil {
			t.Fatal("a value sealed for plugin a opened for plugin b")
		}
		if _, err := s.Open(sealContext("a", "token"), id+"not base64!"); err == nil {
			t.Fatal("garbage opened")
		}
		other, _ := NewSealer(SecretKey{ID: id, Key: []byte(strings.Repeat("k", 32))})
		if _, err := other.Open(sealContext("a", "token"), sealed); err == nil {
			t.Fatal("opened with another site's key")
		}
	}
	bad := []struct {
		name string
		keys []SecretKey
	}{
		{"a 16-byte key", []SecretKey{{ID: "k1", Key: make([]byte, 16)}}},
		{"no key", nil},
		{"an id twice", []SecretKey{{ID: "k1", Key: make([]byte, 32)}, {ID: "k1", Key: make([]byte, 32)}}},
		{"two keys without id", []SecretKey{{Key: make([]byte, 32)}, {Key: make([]byte, 32)}}},
	}
	for _, tc := range bad {
		if _, err := NewSealer(tc.keys...); err == nil {
			t.Errorf("accepted %s", tc.name)
		}
	}
}

// TestSealerKeyRotation walks a site from the legacy key (no id) through two
// rotations: every older value opens while its key is configured, a re-seal
// moves it to the current key, and a value under a key the site no longer
// holds is refused with an error naming that key.
func TestSealerKeyRotation(t *testing.T) {
	key := func(id string, b byte) SecretKey { return SecretKey{ID: id, Key: bytes.Repeat([]byte{b}, 32)} }
	legacy, k1, k2 := key("", 1), key("k1", 2), key("k2", 3)
	ctxA := sealContext("a", "token")

	s0, _ := NewSealer(legacy)
	v0 := s0.Seal(ctxA, "from before key ids")
	s1, err := NewSealer(k1, legacy)
	if err != nil {
		t.Fatal(err)
	}
	v1 := s1.Seal(ctxA, "sealed with k1")
	if KeyID(v1) != "k1" {
		t.Fatalf("the current key did not seal: %q", v1)
	}
	s2, err := NewSealer(k2, k1, legacy)
	if err != nil {
		t.Fatal(err)
	}
	for v, want := range map[string]string{v0: "from before key ids", v1: "sealed with k1"} {
		if got, err := s2.Open(ctxA, v); err != nil || got != want {
			t.Fatalf("open %q after rotation = %q, %v", v, got, err)
		}
	}
	// Re-sealing moves both to k2, keeps what they hold and their binding.
	var moved []string
	for _, v := range []string{v0, v1} {
		out, ok, err := s2.Reseal(ctxA, v)
		if err != nil || !ok || KeyID(out) != "k2" {
			t.Fatalf("reseal %q = %q, %v, %v", v, out, ok, err)
		}
		if again, ok, _ := s2.Reseal(ctxA, out); ok || again != out {
			t.Fatal("a value under the current key was sealed again")
		}
		moved = append(moved, out)
	}
	// With the old keys retired, moved values open and old ones are refused,
	// naming what is missing.
	only2, _ := NewSealer(k2)
	if got, err := only2.Open(ctxA, moved[1]); err != nil || got != "sealed with k1" {
		t.Fatalf("moved value under k2 alone = %q, %v", got, err)
	}
	_, err = only2.Open(ctxA, v1)
	if !errors.Is(err, ErrUnknownKeyID) || !strings.Contains(err.Error(), `"k1"`) || !strings.Contains(err.Error(), EnvPreviousSecretKeys) {
		t.Fatalf("value under a retired key: %v", err)
	}
	if _, err := only2.Open(ctxA, v0); !errors.Is(err, ErrUnknownKeyID) || !strings.Contains(err.Error(), "no key id") {
		t.Fatalf("legacy value without the legacy key: %v", err)
	}
	if _, _, err := only2.Reseal(ctxA, v1); !errors.Is(err, ErrUnknownKeyID) {
		t.Fatalf("reseal under a retired key: %v", err)
	}
	// A moved value copied to another plugin's row still does not open
	// there, nor does one relabelled with another id (even of the same key:
	// the id is bound to the value).
	if _, err := only2.Open(sealContext("b", "token"), moved[0]); err == nil {
		t.Fatal("a resealed value opened for another plugin")
	}
	alias, _ := NewSealer(k2, SecretKey{ID: "alias", Key: k2.Key})
	if _, err := alias.Open(ctxA, "alias:"+strings.TrimPrefix(moved[0], "k2:")); err == nil {
		t.Fatal("a value relabelled with another key id opened")
	}
}

func TestLoadSecretKeys(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvSecretKey, "")
	t.Setenv(EnvPreviousSecretKeys, "")
	k1, err := LoadSecretKeys(dir)
	if err != nil || len(k1.Keys) != 1 || len(k1.Keys[0].Key) != 32 || k1.FromEnv {
		t.Fatalf("first load: %+v, %v", k1, err)
	}
	if !strings.HasPrefix(k1.Keys[0].ID, "local-") {
		t.Fatalf("a new key file's key has id %q", k1.Keys[0].ID)
	}
	st, err := os.Stat(filepath.Join(dir, SecretKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, st.Mode())
	}
	k2, err := LoadSecretKeys(dir)
	if err != nil || k2.Keys[0].String() != k1.Keys[0].String() {
		t.Fatal("second load returned another key")
	}
	// A key file from before key ids holds a bare key: the legacy key.
	old := t.TempDir()
	bare := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
	if err := os.WriteFile(filepath.Join(old, SecretKeyFile), []byte(bare+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if k, err := LoadSecretKeys(old); err != nil || k.Keys[0].ID != "" || k.Keys[0].Key[0] != 9 {
		t.Fatalf("legacy key file: %+v, %v", k, err)
	}

	b64 := func(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }
	t.Setenv(EnvSecretKey, "k2:"+b64(2))
	t.Setenv(EnvPreviousSecretKeys, " k1:"+b64(1)+", "+b64(0))
	env, err := LoadSecretKeys(dir)
	if err != nil || !env.FromEnv || len(env.Keys) != 3 || env.Keys[0].ID != "k2" || env.Keys[1].ID != "k1" || env.Keys[2].ID != "" || env.Keys[0].Key[0] != 2 {
		t.Fatalf("env keys: %+v, %v", env, err)
	}
	bad := []struct{ cur, prev, want string }{
		{"short", "", "32 bytes"},
		{"k1:" + b64(1)[:20], "", "32 bytes"},
		{"bad id!:" + b64(1), "", "key id"},
		{"", "k1:" + b64(1), EnvSecretKey},
		{"k1:" + b64(1), "k1:" + b64(2), "twice"},
		{"k1:" + b64(1), "k0:" + b64(0) + ",nonsense", "key 2"},
		{b64(1), b64(2), "more than one key without an id"},
	}
	for _, tc := range bad {
		t.Setenv(EnvSecretKey, tc.cur)
		t.Setenv(EnvPreviousSecretKeys, tc.prev)
		if _, err := LoadSecretKeys(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%q %s=%q: %v, want an error naming %q", EnvSecretKey, tc.cur, EnvPreviousSecretKeys, tc.prev, err, tc.want)
		}
	}
}

func TestGrantMatching(t *testing.T) {
	cases := []struct {
		a, b []string
		same bool
	}{
		{nil, nil, true},
		{[]string{"x", "y"}, []string{"y", "x"}, true},
		{[]string{"x"}, []string{"x", "x"}, false},
		{[]string{"x", "y"}, []string{"x"}, false},
		{[]string{"x"}, []string{"x", "z"}, false},
		{[]string{}, nil, true},
	}
	for _, tc := range cases {
		if got := sameSet(tc.a, tc.b); got != tc.same {
			t.Errorf("sameSet(%v, %v) = %v", tc.a, tc.b, got)
		}
	}
}

func TestCheckNewer(t *testing.T) {
	cases := []struct {
		cur, next string
		force, ok bool
	}{
		{"", "1.0.0", false, true},
		{"1.0.0", "1.0.1", false, true},
		{"1.0.0", "1.0.0", false, true},
		{"1.2.0", "1.1.9", false, false},
		{"1.2.0", "1.1.9", true, true},
		{"1.0.0", "1.0.0-beta.1", false, false},
	}
	for _, tc := range cases {
		err := checkNewer(tc.cur, tc.next, tc.force)
		if (err == nil) != tc.ok {
			t.Errorf("checkNewer(%q, %q, %v) = %v", tc.cur, tc.next, tc.force, err)
		}
	}
}
