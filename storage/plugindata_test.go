package storage

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

func openTestDB(t testing.TB) *DB {
	t.Helper()
	db, err := OpenSpec(context.Background(), storagetest.Spec(t, ""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestPluginKVIsScopedByPlugin(t *testing.T) {
	ctx := context.Background()
	pd := NewPluginData(openTestDB(t))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(pd.KVSet(ctx, "victim", "secret", json.RawMessage(`"v"`), 0))
	must(pd.KVSet(ctx, "victim", "a%b_c", json.RawMessage(`1`), 0))

	// Keys a hostile plugin might craft to reach the victim's rows.
	for _, key := range []string{"secret", "victim:secret", "../victim/secret", "victim\x00secret", "' OR 1=1 --", "%", "*"} {
		if _, err := pd.KVGet(ctx, "attacker", key); !errors.Is(err, ErrNotFound) && !(strings.Contains(key, "\x00") && errors.Is(err, ErrInvalid)) {
			t.Errorf("attacker KVGet(%q) = %v, want ErrNotFound", key, err)
		}
	}
	for _, prefix := range []string{"", "%", "_", "s", "a%"} {
		items, _, err := pd.KVList(ctx, "attacker", prefix, "", 100)
		if err != nil || len(items) != 0 {
			t.Errorf("attacker KVList(%q) = %v, %v; want nothing", prefix, items, err)
		}
	}
	// LIKE wildcards in a prefix are literal.
	must(pd.KVSet(ctx, "victim", "axb", json.RawMessage(`2`), 0))
	items, _, err := pd.KVList(ctx, "victim", "a%", "", 100)
	if err != nil || len(items) != 1 || items[0].Key != "a%b_c" {
		t.Fatalf("KVList(a%%) = %+v, %v", items, err)
	}
	must(pd.KVDelete(ctx, "attacker", "secret"))
	if v, err := pd.KVGet(ctx, "victim", "secret"); err != nil || string(v) != `"v"` {
		t.Fatalf("victim's key after attacker delete: %s, %v", v, err)
	}
	must(pd.DeleteAll(ctx, "attacker"))
	if _, err := pd.KVGet(ctx, "victim", "secret"); err != nil {
		t.Fatalf("attacker DeleteAll reached the victim: %v", err)
	}
}

func TestPluginKVPaginationAndLimits(t *testing.T) {
	ctx := context.Background()
	pd := NewPluginData(openTestDB(t))
	for _, k := range []string{"k1", "k2", "k3", "k4", "k5", "other"} {
		if err := pd.KVSet(ctx, "p", k, json.RawMessage(`true`), 0); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		items, next, err := pd.KVList(ctx, "p", "k", cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			got = append(got, it.Key)
		}
		if next == "" {
			break
		}
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		cursor = next
	}
	if strings.Join(got, ",") != "k1,k2,k3,k4,k5" {
		t.Fatalf("paged keys %v", got)
	}
	bad := []struct {
		key   string
		value string
	}{
		{"", `1`},
		{strings.Repeat("k", MaxKVKeyBytes+1), `1`},
		{"bad-utf8-\xff", `1`},
		{"ok", `{not json`},
		{"ok", `"` + strings.Repeat("x", MaxValueBytes) + `"`},
	}
	for _, b := range bad {
		if err := pd.KVSet(ctx, "p", b.key, json.RawMessage(b.value), 0); !errors.Is(err, ErrInvalid) {
			t.Errorf("KVSet(%.20q, %.20q) = %v, want ErrInvalid", b.key, b.value, err)
		}
	}
}
