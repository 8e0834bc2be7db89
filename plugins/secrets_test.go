package plugins

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealerRoundTripAndBinding(t *testing.T) {
	key := make([]byte, 32)
	s, err := NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed := s.Seal(sealContext("a", "token"), "s3cret")
	if strings.Contains(sealed, "s3cret") {
		t.Fatal("sealed value contains the plaintext")
	}
	if got, err := s.Open(sealContext("a", "token"), sealed); err != nil || got != "s3cret" {
		t.Fatalf("open = %q, %v", got, err)
	}
	// A sealed value copied to another plugin's row does not open there.
	if _, err := s.Open(sealContext("b", "token"), sealed); err == nil {
		t.Fatal("a value sealed for plugin a opened for plugin b")
	}
	if _, err := s.Open(sealContext("a", "token"), "not base64!"); err == nil {
		t.Fatal("garbage opened")
	}
	other, _ := NewSealer([]byte(strings.Repeat("k", 32)))
	if _, err := other.Open(sealContext("a", "token"), sealed); err == nil {
		t.Fatal("opened with another site's key")
	}
	if _, err := NewSealer(make([]byte, 16)); err == nil {
		t.Fatal("accepted a 16-byte key")
	}
}

func TestLoadSecretKey(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PILCROW_SECRET_KEY", "")
	k1, err := LoadSecretKey(dir)
	if err != nil || len(k1) != 32 {
		t.Fatalf("first load: %d bytes, %v", len(k1), err)
	}
	st, err := os.Stat(filepath.Join(dir, SecretKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, st.Mode())
	}
	k2, err := LoadSecretKey(dir)
	if err != nil || string(k1) != string(k2) {
		t.Fatal("second load returned another key")
	}
	env := make([]byte, 32)
	env[0] = 7
	t.Setenv("PILCROW_SECRET_KEY", base64.StdEncoding.EncodeToString(env))
	k3, err := LoadSecretKey(dir)
	if err != nil || k3[0] != 7 {
		t.Fatalf("env key not used: %v", err)
	}
	t.Setenv("PILCROW_SECRET_KEY", "short")
	if _, err := LoadSecretKey(dir); err == nil {
		t.Fatal("accepted a malformed PILCROW_SECRET_KEY")
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
