package plugins

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/storage"
)

// trail is a beforeSave plugin that appends its mark to data.trail.
func trail(mark string) string {
	return `export default { hooks: { "content:beforeSave": (event) => ({ ...event.data, trail: (event.data.trail || "") + "` + mark + `" }) } };`
}

func TestBeforeSaveChainsByPriorityThenInstallOrder(t *testing.T) {
	r := newRig(t, QueueConfig{})
	// Installed in the order a, b, c, keep; b runs first on priority, then a
	// and c (equal priority) in install order; keep returns nothing.
	r.inline(hookPlugin("a-plugin", `["content:write"]`, `[{"name": "content:beforeSave", "priority": 50}]`), trail("A"))
	r.inline(hookPlugin("b-plugin", `["content:write"]`, `[{"name": "content:beforeSave", "priority": 10}]`), trail("B"))
	r.inline(hookPlugin("c-plugin", `["content:write"]`, `[{"name": "content:beforeSave", "priority": 50}]`), trail("C"))
	r.inline(hookPlugin("keep-plugin", `["content:write"]`, `["content:beforeSave"]`),
		`export default { hooks: { "content:beforeSave": (event) => { if (event.data.trail !== "BAC") throw new Error("saw " + event.data.trail); } } };`)

	out, err := r.d.BeforeSave(context.Background(), cms.SaveEvent{Collection: "posts", ID: "e1", IsNew: true, Data: map[string]any{"title": "Hi"}})
	if err != nil {
		t.Fatal(err)
	}
	if out["trail"] != "BAC" || out["title"] != "Hi" {
		t.Fatalf("chained data = %v, want trail BAC and the title kept", out)
	}
}

func TestBeforeSaveKeepsDataWhenNothingReturned(t *testing.T) {
	r := newRig(t, QueueConfig{})
	r.inline(hookPlugin("quiet", `["content:write"]`, `["content:beforeSave"]`),
		`export default { hooks: { "content:beforeSave": (event) => event.isNew ? null : undefined } };`)
	for _, isNew := range []bool{true, false} {
		out, err := r.d.BeforeSave(context.Background(), cms.SaveEvent{Collection: "posts", ID: "e1", IsNew: isNew, Data: map[string]any{"title": "Hi"}})
		if err != nil || out != nil {
			t.Fatalf("isNew=%v: got %v, %v; want nil data (keep) and no error", isNew, out, err)
		}
	}
}

func TestBeforeSaveRejections(t *testing.T) {
	r := newRig(t, QueueConfig{})
	r.inline(hookPlugin("thrower", `["content:write"]`, `["content:beforeSave"]`),
		`export default { hooks: { "content:beforeSave": (event) => { if (event.collection === "strict") throw new Error("titles must not shout"); } } };`)
	r.inline(`{"id": "looper", "version": "1.0.0", "name": "looper", "capabilities": ["content:write"], "hooks": ["content:beforeSave"],
		"limits": {"cpuMs": 50}}`,
		`export default { hooks: { "content:beforeSave": (event) => { if (event.collection === "loop") { for (;;) {} } } } };`)
	r.inline(hookPlugin("arrayer", `["content:write"]`, `["content:beforeSave"]`),
		`export default { hooks: { "content:beforeSave": (event) => event.collection === "array" ? [1, 2] : undefined } };`)

	cases := []struct {
		collection, plugin, message string
	}{
		{"strict", "thrower", "titles must not shout"},
		{"loop", "looper", "limit exceeded: cpu (50 ms)"},
		{"array", "arrayer", "returned an array"},
	}
	for _, tc := range cases {
		_, err := r.d.BeforeSave(context.Background(), cms.SaveEvent{Collection: tc.collection, ID: "e1", Data: map[string]any{}})
		var rej *cms.HookRejection
		if !errors.As(err, &rej) {
			t.Fatalf("%s: want a *cms.HookRejection, got %v", tc.collection, err)
		}
		if rej.Plugin != tc.plugin || !strings.Contains(rej.Message, tc.message) {
			t.Errorf("%s: rejection %+v, want plugin %s and message containing %q", tc.collection, rej, tc.plugin, tc.message)
		}
	}
	// The looping plugin failed only its own invocation: the next save runs
	// every plugin again and goes through.
	out, err := r.d.BeforeSave(context.Background(), cms.SaveEvent{Collection: "posts", ID: "e2", Data: map[string]any{"title": "ok"}})
	if err != nil || out != nil {
		t.Fatalf("save after the loop: %v, %v", out, err)
	}
}

func TestBeforeDeleteVeto(t *testing.T) {
	r := newRig(t, QueueConfig{})
	r.inline(hookPlugin("keeper", `["content:write"]`, `["content:beforeDelete"]`),
		`export default { hooks: { "content:beforeDelete": (event) => {
			if (event.data.locked === true) return false;
			if (event.purge) throw new Error("purging is off on this site");
			return true;
		} } };`)
	entry := func(locked bool) *cms.Entry {
		return &cms.Entry{ID: "e1", Collection: "posts", Version: 3, Data: map[string]any{"locked": locked}}
	}
	cases := []struct {
		name    string
		ev      cms.DeleteEvent
		message string // empty: allowed
	}{
		{"allowed", cms.DeleteEvent{Entry: entry(false)}, ""},
		{"false vetoes", cms.DeleteEvent{Entry: entry(true)}, "vetoed"},
		{"a throw vetoes", cms.DeleteEvent{Entry: entry(false), Purge: true}, "purging is off on this site"},
	}
	for _, tc := range cases {
		err := r.d.BeforeDelete(context.Background(), tc.ev)
		if tc.message == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		var rej *cms.HookRejection
		if !errors.As(err, &rej) || rej.Plugin != "keeper" || !strings.Contains(rej.Message, tc.message) {
			t.Errorf("%s: got %v, want a rejection by keeper containing %q", tc.name, err, tc.message)
		}
	}
}

func TestDeactivatedPluginNeverRuns(t *testing.T) {
	r := newRig(t, QueueConfig{})
	ctx := context.Background()
	r.inline(hookPlugin("stamper", `["content:write"]`, `["content:beforeSave", "content:afterSave"]`),
		`export default { hooks: {
			"content:beforeSave": (event) => ({ ...event.data, stamped: true }),
			"content:afterSave": () => {},
		} };`)
	ev := cms.SaveEvent{Collection: "posts", ID: "e1", Data: map[string]any{}}
	if out, err := r.d.BeforeSave(ctx, ev); err != nil || out["stamped"] != true {
		t.Fatalf("active plugin: %v, %v", out, err)
	}
	if _, err := r.m.Deactivate(ctx, "stamper"); err != nil {
		t.Fatal(err)
	}
	if out, err := r.d.BeforeSave(ctx, ev); err != nil || out != nil {
		t.Fatalf("deactivated plugin changed the save: %v, %v", out, err)
	}
	err := r.db.Tx(ctx, func(tx *sql.Tx) error {
		return r.d.AfterSave(ctx, tx, cms.EntryEvent{Entry: &cms.Entry{ID: "e1", Collection: "posts", Version: 2}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if jobs, _ := r.q.Jobs(ctx, "stamper"); len(jobs) != 0 {
		t.Fatalf("after hook enqueued for a deactivated plugin: %+v", jobs)
	}
	r.flushLogs()
	page, err := r.logs.Query(ctx, "stamper", LogQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 {
		t.Fatalf("want exactly the one invocation from before deactivation, got %d", len(page.Items))
	}
}

// The example plugins through the real content service: content-guard
// rejects (422 material), reading-time's output is validated and stored.
func TestExamplesThroughContentService(t *testing.T) {
	r := newRig(t, QueueConfig{})
	ctx := context.Background()
	r.example("content-guard")
	r.example("reading-time")
	r.settings("content-guard", map[string]any{"bannedWords": "lorem ipsum"})
	r.settings("reading-time", map[string]any{"collections": "posts", "field": "reading_time"})
	content, admin := r.content()

	e, err := content.CreateEntry(ctx, admin, "posts", map[string]any{"title": "Hello", "body": strings.Repeat("word ", 450)})
	if err != nil {
		t.Fatal(err)
	}
	if rt := fmt.Sprint(e.Data["reading_time"]); rt != "3" {
		t.Fatalf("reading_time = %v (%T), want 3 (450 words at 200 wpm)", e.Data["reading_time"], e.Data["reading_time"])
	}
	_, err = content.CreateEntry(ctx, admin, "posts", map[string]any{"title": "Bad", "body": "Lorem ipsum dolor"})
	var rej *cms.HookRejection
	if !errors.As(err, &rej) || rej.Plugin != "content-guard" || !strings.Contains(rej.Message, "lorem ipsum") {
		t.Fatalf("banned words: got %v, want a rejection by content-guard", err)
	}
}

func TestMediaUploadHooks(t *testing.T) {
	r := newRig(t, QueueConfig{})
	ctx := context.Background()
	r.inline(hookPlugin("media-guard", `["media:write"]`, `["media:beforeUpload", "media:afterUpload"]`),
		`export default { hooks: {
			"media:beforeUpload": (event) => { if (event.filename.includes("private")) throw new Error("no private files (" + event.mimeType + ")"); },
			"media:afterUpload": (event, ctx) => ctx.kv.set("last", event),
		} };`)
	store, err := storage.NewLocalStore(filepath.Join(r.dir, "media"))
	if err != nil {
		t.Fatal(err)
	}
	lib := cms.NewMediaLibrary(r.db, store, cms.MediaOptions{})
	lib.SetHooks(r.d)
	_, admin := r.content()
	var img bytes.Buffer
	if err := png.Encode(&img, image.NewRGBA(image.Rect(0, 0, 3, 2))); err != nil {
		t.Fatal(err)
	}
	upload := func(name string) (*cms.Media, error) {
		return lib.Upload(ctx, admin, cms.MediaUpload{Filename: name, Size: int64(img.Len()), Body: bytes.NewReader(img.Bytes())})
	}

	_, err = upload("private.png")
	var rej *cms.HookRejection
	if !errors.As(err, &rej) || rej.Plugin != "media-guard" || rej.Message != "no private files (image/png)" {
		t.Fatalf("got %v, want a rejection by media-guard", err)
	}
	if page, err := lib.List(ctx, cms.MediaQuery{}); err != nil || len(page.Items) != 0 {
		t.Fatalf("a rejected upload was recorded: %+v, %v", page, err)
	}

	m, err := upload("public.png")
	if err != nil {
		t.Fatal(err)
	}
	if ran, err := r.q.RunOnce(ctx); !ran || err != nil {
		t.Fatalf("afterUpload delivery: %v, %v", ran, err)
	}
	raw, err := storage.NewPluginData(r.db).KVGet(ctx, "media-guard", "last")
	if err != nil {
		t.Fatal(err)
	}
	var ev MediaEvent
	if err := json.Unmarshal(raw, &ev); err != nil || ev.ID != m.ID || ev.URL != "/media/"+m.ID+"/public.png" || ev.Width == nil || *ev.Width != 3 {
		t.Fatalf("afterUpload event %s (%v)", raw, err)
	}
}

// What an invocation derives from a plugin's settings (values, grants) is
// kept with the cached settings: a change saved in this process reaches
// the next invocation at once, and one saved by another process sharing the
// database once the settings cache entry expires.
func TestInvocationSetupFollowsSettings(t *testing.T) {
	r := newRig(t, QueueConfig{})
	r.inline(`{"id": "greeter", "version": "1.0.0", "name": "Greeter", "capabilities": ["content:write"],
		"hooks": ["content:beforeSave"], "settings": [{"key": "greeting", "label": "Greeting", "type": "string", "default": "hello"}]}`,
		`export default { hooks: { "content:beforeSave": (ev, ctx) => ({ ...ev.data, title: String(ctx.settings.greeting) }) } };`)
	ctx := context.Background()
	title := func(d *Dispatcher) string {
		t.Helper()
		out, err := d.BeforeSave(ctx, cms.SaveEvent{Collection: "posts", ID: "e1", Data: map[string]any{"title": "x"}})
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(out["title"])
	}
	if got := title(r.d); got != "hello" {
		t.Fatalf("title = %q, want the default hello", got)
	}
	r.settings("greeter", map[string]any{"greeting": "bonjour"})
	if got := title(r.d); got != "bonjour" {
		t.Fatalf("after a settings change in this process: title = %q, want bonjour", got)
	}

	// Another process: its own manager and connections to the same
	// database. Its cached settings follow the plugin_settings generation,
	// which its re-check of the generations moves (polled here).
	other := r.newManager(r.openAgain())
	if got := title(other.Hooks()); got != "bonjour" {
		t.Fatalf("other process: title = %q, want bonjour", got)
	}
	r.settings("greeter", map[string]any{"greeting": "hallo"})
	waitFor(t, "the other process sees the new setting", func() bool { return title(other.Hooks()) == "hallo" })
}
