package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/plugins/authoring"
	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/storage"
)

// bundleOf builds and packs an inline plugin without installing it.
func (r *rig) bundleOf(manifestJSON, js string) []byte {
	r.t.Helper()
	dir := r.t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
		r.t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(manifestJSON), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "src", "plugin.js"), []byte(js), 0o644)
	res, err := authoring.Build(context.Background(), dir)
	if err != nil {
		r.t.Fatal(err)
	}
	var zip bytes.Buffer
	if _, err := bundle.Write(&zip, &bundle.Bundle{ManifestJSON: []byte(manifestJSON), Script: res.Script}); err != nil {
		r.t.Fatal(err)
	}
	return zip.Bytes()
}

// route invokes a plugin route and returns its JSON value.
func (r *rig) route(ap *ActivePlugin, name string) string {
	r.t.Helper()
	res, err := r.m.Invoke(context.Background(), ap, sandbox.KindRoute, name, map[string]any{"method": "GET", "path": name})
	if err != nil {
		r.t.Fatalf("route %s: %v", name, err)
	}
	return string(res.Value)
}

const storeManifest = `{"id": "store", "version": "1.0.0", "name": "Store",
	"storage": {"subs": {"indexes": ["status", ["status", "createdAt"]], "uniqueIndexes": ["email"]}},
	"routes": [{"name": "run"}], "limits": {"storageBytes": 4000}}`

// storeScript exercises every storage method through the isolate and
// returns what it saw; each refusal is caught and its message returned.
const storeScript = `
const msg = async (p) => { try { await p; return "ok"; } catch (e) { return String(e && e.message || e); } };
export default { routes: { run: async (req, ctx) => {
	const s = ctx.storage.subs;
	const out = {};
	await s.put("a", { email: "a@x", status: "new", createdAt: 3 });
	await s.putMany([{ id: "b", data: { email: "b@x", status: "new", createdAt: 1 } }, { id: "c", data: { email: "c@x", status: "old", createdAt: 2 } }]);
	out.exists = [await s.exists("a"), await s.exists("zz")];
	const m = await s.getMany(["c", "zz", "a"]);
	out.getMany = { isMap: m instanceof Map, keys: [...m.keys()], a: m.get("a").email };
	out.dupPut = await msg(s.put("d", { email: "a@x" }));
	out.dupBatch = await msg(s.putMany([{ id: "e", data: { email: "e@x" } }, { id: "f", data: { email: "e@x" } }]));
	out.eAfterBatch = await s.exists("e");
	const p1 = await s.query({ where: { status: "new" }, orderBy: { createdAt: "desc" }, limit: 1 });
	const p2 = await s.query({ where: { status: "new" }, orderBy: { createdAt: "desc" }, limit: 1, cursor: p1.cursor });
	out.pages = [p1.items.map((i) => i.id), p1.hasMore, p2.items.map((i) => i.id), p2.hasMore, p2.cursor === undefined];
	out.range = (await s.query({ where: { createdAt: { gte: 2 } }, orderBy: "createdAt" })).items.map((i) => i.id);
	out.count = [await s.count(), await s.count({ status: { in: ["old"] } })];
	out.badCursor = await msg(s.query({ where: { status: "new" }, cursor: p1.cursor.slice(0, -2) + "zz" }));
	out.unindexed = await msg(s.query({ where: { email2: "x" } }));
	out.unknownOp = await msg(s.count({ status: { like: "%" } }));
	out.quota = await msg(s.put("big", { email: "big@x", pad: "x".repeat(5000) }));
	out.deleteMany = await s.deleteMany(["a", "b", "zz"]);
	out.afterDelete = await msg(s.put("big2", { email: "big2@x", pad: "x".repeat(3000) }));
	out.tooMany = await msg(s.getMany(Array.from({ length: 101 }, (_, i) => "id" + i)));
	return out;
} } };`

func TestStorageThroughTheSandbox(t *testing.T) {
	r := newRig(t, QueueConfig{})
	ap := r.inline(storeManifest, storeScript)
	var got map[string]any
	if err := json.Unmarshal([]byte(r.route(ap, "run")), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"exists":      `[true,false]`,
		"getMany":     `{"a":"a@x","isMap":true,"keys":["c","a"]}`,
		"eAfterBatch": `false`,
		"pages":       `[["a"],true,["b"],false,true]`,
		"range":       `["c","a"]`,
		"count":       `[3,1]`,
		"deleteMany":  `2`,
		"afterDelete": `"ok"`,
	}
	for k, w := range want {
		b, _ := json.Marshal(got[k])
		if string(b) != w {
			t.Errorf("%s = %s, want %s", k, b, w)
		}
	}
	contains := map[string][]string{
		"dupPut":    {"unique index email", `"a"`},
		"dupBatch":  {"unique index email", `"f"`, `"e"`},
		"badCursor": {"cursor is not one this query returned"},
		"unindexed": {`"email2" is not indexed`},
		"unknownOp": {`unknown operator "like"`},
		"quota":     {"storage quota", "limits.storageBytes", "4000"},
		"tooMany":   {"at most 100"},
	}
	for k, parts := range contains {
		s, _ := got[k].(string)
		for _, p := range parts {
			if !strings.Contains(s, p) {
				t.Errorf("%s = %q, want it to contain %q", k, s, p)
			}
		}
	}
}

func TestStorageIndexesFollowUpgrades(t *testing.T) {
	r := newRig(t, QueueConfig{})
	ctx := context.Background()
	const v1 = `{"id": "store", "version": "1.0.0", "name": "Store", "storage": {"subs": {"indexes": ["status"]}}, "routes": [{"name": "run"}]}`
	ap := r.inline(v1, `export default { routes: { run: async (req, ctx) => {
		await ctx.storage.subs.putMany([{ id: "a", data: { status: "new", email: "same@x", n: 1 } }, { id: "b", data: { status: "new", email: "same@x", n: 2 } }]);
		return null;
	} } };`)
	r.route(ap, "run")
	data := storage.NewPluginData(r.db)

	// 1.1.0 adds an index on n: built over the existing documents.
	v2 := strings.Replace(strings.Replace(v1, `["status"]`, `["status", "n"]`, 1), "1.0.0", "1.1.0", 1)
	if _, err := r.m.Install(ctx, r.bundleOf(v2, `export default { routes: { run: () => null } };`), "admin", false); err != nil {
		t.Fatal(err)
	}
	q, _ := storage.ParseDocQuery(json.RawMessage(`{"where":{"n":{"gt":1}}}`))
	page, err := data.DocQuery(ctx, "store", "subs", q)
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != "b" {
		t.Fatalf("backfilled index after the upgrade: %+v, %v", page, err)
	}
	// 1.2.0 makes email unique over duplicates: refused with the problem
	// at the index, and 1.1.0 keeps running with its indexes.
	v3 := strings.Replace(strings.Replace(v2, `["status", "n"]}`, `["status", "n"], "uniqueIndexes": ["email"]}`, 1), "1.1.0", "1.2.0", 1)
	_, err = r.m.Install(ctx, r.bundleOf(v3, `export default { routes: { run: () => null } };`), "admin", false)
	var be *bundle.Error
	if !errors.As(err, &be) || be.Problems[0].Path != "/storage/subs/uniqueIndexes/0" || !strings.Contains(err.Error(), `"a"`) || !strings.Contains(err.Error(), `"b"`) {
		t.Fatalf("unique index over duplicates: %v", err)
	}
	info, _ := r.m.Get(ctx, "store")
	if info.Version != "1.1.0" {
		t.Fatalf("running version %s after a refused upgrade", info.Version)
	}
	if page, err := data.DocQuery(ctx, "store", "subs", q); err != nil || len(page.Items) != 1 {
		t.Fatalf("index after a refused upgrade: %v %v", page, err)
	}
	// Uninstalling with deleteData leaves no index rows behind.
	if err := r.m.Uninstall(ctx, "store", true); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"plugin_doc_keys", "plugin_storage_indexes", "plugin_docs", "plugin_storage_usage"} {
		var n int
		_ = r.db.Read().QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n)
		if n != 0 {
			t.Errorf("%d rows in %s after uninstall with deleteData", n, table)
		}
	}
}

// BenchmarkStorageQueryWorker is one ctx.storage.query at 10k documents
// (an indexed range with orderBy and limit 50) through a worker: the
// isolate's call, the gate, the host and SQLite, end to end.
func BenchmarkStorageQueryWorker(b *testing.B) {
	r := newRig(b, QueueConfig{})
	ap := r.inline(`{"id": "bench", "version": "1.0.0", "name": "Bench",
		"storage": {"subs": {"indexes": [["status", "createdAt"]]}}, "routes": [{"name": "query"}, {"name": "noop"}]}`,
		`export default { routes: {
			query: async (req, ctx) => (await ctx.storage.subs.query({ where: { status: "new", createdAt: { gte: 1700100000 } }, orderBy: { createdAt: "desc" }, limit: 50 })).items.length,
			noop: async () => 0,
		} };`)
	data := storage.NewPluginData(r.db)
	ctx := context.Background()
	batch := make([]storage.DocInput, 0, storage.MaxBatch)
	for i := range 10_000 {
		batch = append(batch, storage.DocInput{ID: fmt.Sprintf("sub_%05d", i), Data: json.RawMessage(fmt.Sprintf(
			`{"formId":"contact","status":"%s","createdAt":%d,"email":"user%d@example.com","message":"hello there, this is submission %d"}`,
			[]string{"new", "read", "spam"}[i%3], 1_700_000_000+i*60, i, i))})
		if len(batch) == storage.MaxBatch {
			if err := data.DocPutMany(ctx, "bench", "subs", batch, 0); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if got := r.route(ap, "query"); got != "50" {
		b.Fatalf("query returned %s items", got)
	}
	for _, name := range []string{"noop", "query"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := r.m.Invoke(ctx, ap, sandbox.KindRoute, name, map[string]any{"method": "GET", "path": name}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
