package storage

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func openTestDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "pilcrow.db"))
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
	must(pd.KVSet(ctx, "victim", "secret", json.RawMessage(`"v"`)))
	must(pd.KVSet(ctx, "victim", "a%b_c", json.RawMessage(`1`)))

	// Keys a hostile plugin might craft to reach the victim's rows.
	for _, key := range []string{"secret", "victim:secret", "../victim/secret", "victim\x00secret", "' OR 1=1 --", "%", "*"} {
		if _, err := pd.KVGet(ctx, "attacker", key); !errors.Is(err, ErrNotFound) {
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
	must(pd.KVSet(ctx, "victim", "axb", json.RawMessage(`2`)))
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
		if err := pd.KVSet(ctx, "p", k, json.RawMessage(`true`)); err != nil {
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
		if err := pd.KVSet(ctx, "p", b.key, json.RawMessage(b.value)); !errors.Is(err, ErrInvalid) {
			t.Errorf("KVSet(%.20q, %.20q) = %v, want ErrInvalid", b.key, b.value, err)
		}
	}
}

func TestPluginDocsQueryAndScope(t *testing.T) {
	ctx := context.Background()
	pd := NewPluginData(openTestDB(t))
	for i, d := range []string{`{"kind":"save","n":1}`, `{"kind":"delete","n":2}`, `{"kind":"save","n":3,"ok":true}`} {
		if err := pd.DocPut(ctx, "audit", "events", string(rune('a'+i)), json.RawMessage(d)); err != nil {
			t.Fatal(err)
		}
	}
	docs, _, err := pd.DocList(ctx, "audit", "events", DocQuery{Where: map[string]any{"kind": "save"}})
	if err != nil || len(docs) != 2 || docs[0].ID != "a" || docs[1].ID != "c" {
		t.Fatalf("query kind=save: %+v, %v", docs, err)
	}
	docs, _, err = pd.DocList(ctx, "audit", "events", DocQuery{Where: map[string]any{"ok": true}})
	if err != nil || len(docs) != 1 || docs[0].ID != "c" {
		t.Fatalf("query ok=true: %+v, %v", docs, err)
	}
	n, err := pd.DocCount(ctx, "audit", "events", map[string]any{"n": float64(2)})
	if err != nil || n != 1 {
		t.Fatalf("count n=2: %d, %v", n, err)
	}
	if docs, _, _ := pd.DocList(ctx, "other", "events", DocQuery{}); len(docs) != 0 {
		t.Fatalf("another plugin sees %d docs", len(docs))
	}
	for _, field := range []string{"kind') OR 1=1 --", "a.b", "$", "x y", ""} {
		if _, _, err := pd.DocList(ctx, "audit", "events", DocQuery{Where: map[string]any{field: "x"}}); !errors.Is(err, ErrInvalid) {
			t.Errorf("field %q: %v, want ErrInvalid", field, err)
		}
	}
	for _, coll := range []string{"Events", "events; DROP TABLE plugin_docs", "../x", ""} {
		if err := pd.DocPut(ctx, "audit", coll, "z", json.RawMessage(`{}`)); !errors.Is(err, ErrInvalid) {
			t.Errorf("collection %q: %v, want ErrInvalid", coll, err)
		}
	}
	if err := pd.DocPut(ctx, "audit", "events", "z", json.RawMessage(`[1,2]`)); !errors.Is(err, ErrInvalid) {
		t.Errorf("array document accepted: %v", err)
	}
	if existed, err := pd.DocDelete(ctx, "audit", "events", "a"); err != nil || !existed {
		t.Fatalf("delete: %v, %v", existed, err)
	}
	if existed, err := pd.DocDelete(ctx, "other", "events", "c"); err != nil || existed {
		t.Fatalf("another plugin deleted a document: %v, %v", existed, err)
	}
	docs, next, err := pd.DocList(ctx, "audit", "events", DocQuery{OrderBy: "-n", Limit: 1})
	if err != nil || len(docs) != 1 || docs[0].ID != "c" || next == "" {
		t.Fatalf("orderBy -n: %+v %q %v", docs, next, err)
	}
	docs, next, err = pd.DocList(ctx, "audit", "events", DocQuery{OrderBy: "-n", Limit: 1, Cursor: next})
	if err != nil || len(docs) != 1 || docs[0].ID != "b" || next != "" {
		t.Fatalf("orderBy -n page 2: %+v %q %v", docs, next, err)
	}
	if _, _, err := pd.DocList(ctx, "audit", "events", DocQuery{OrderBy: "n) --"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("hostile orderBy: %v", err)
	}
	if _, err := pd.DocGet(ctx, "audit", "events", "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted doc: %v", err)
	}
}
