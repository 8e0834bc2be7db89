package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// What a plugin produces may hold characters PostgreSQL's text refuses (a
// JavaScript string can hold NUL): its invocation is still logged, with
// the other records of the same batch, on either database, and the texts
// read back alike.
func TestLogsKeepUnstorableTexts(t *testing.T) {
	r := newRig(t, QueueConfig{})
	ctx := context.Background()
	r.inline(`{"id": "nul", "version": "1.0.0", "name": "nul", "capabilities": ["content:write"], "hooks": ["content:beforeSave"]}`,
		`export default { hooks: { "content:beforeSave": (event, ctx) => {
			ctx.log.info("line with \u0000 inside");
			if (event.collection === "throw") throw new Error("bad\u0000reply");
		} } };`)
	for _, coll := range []string{"ok", "throw", "ok"} {
		if _, err := r.d.BeforeSave(ctx, cms.SaveEvent{Collection: coll, ID: "e", Data: map[string]any{}}); (err != nil) != (coll == "throw") {
			t.Fatalf("%s: %v", coll, err)
		}
	}
	r.flushLogs()
	page, err := r.logs.Query(ctx, "nul", LogQuery{})
	if err != nil || len(page.Items) != 3 {
		t.Fatalf("logs: %+v, %v (want all 3 invocations)", page, err)
	}
	thrown := page.Items[1]
	if thrown.Outcome != OutcomeError || thrown.Error != `bad\x00reply` {
		t.Errorf("the throwing invocation's error: %q", thrown.Error)
	}
	for _, it := range page.Items {
		if len(it.Lines) != 1 || it.Lines[0].Message != "line with \x00 inside" {
			t.Errorf("lines %+v", it.Lines)
		}
	}
	st, err := r.logs.Stats(ctx, "nul")
	if err != nil || st.Count != 3 || st.Errors != 1 || st.LimitHits != 0 {
		t.Errorf("stats %+v, %v", st, err)
	}
	if _, err := r.logs.Query(ctx, "nul", LogQuery{Name: "content:\x00"}); !errors.Is(err, ErrBadLogQuery) {
		t.Errorf("a name filter with NUL: %v", err)
	}
	if got := storableText("ok \xff"); got != "ok \uFFFD" {
		t.Errorf("storableText of invalid UTF-8 = %q", got)
	}
}

// Ids no plugin has (NUL, invalid UTF-8) are not found on either database,
// and a setting holding NUL is refused naming the field.
func TestUnstorableIdsAndSettings(t *testing.T) {
	r := newRig(t, QueueConfig{})
	ctx := context.Background()
	r.inline(`{"id": "withsettings", "version": "1.0.0", "name": "with settings",
		"settings": [{"key": "greeting", "type": "string", "label": "Greeting"}, {"key": "token", "type": "secret", "label": "Token"}]}`,
		`export default { hooks: {} };`)
	for _, id := range []string{"with\x00settings", "\xff\xfe"} {
		if _, err := r.m.Get(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q): %v", id, err)
		}
		if _, err := r.m.PluginLogs(ctx, id, LogQuery{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("PluginLogs(%q): %v", id, err)
		}
		if _, err := r.m.Settings(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Settings(%q): %v", id, err)
		}
	}
	for _, key := range []string{"greeting", "token"} {
		_, err := r.m.UpdateSettings(ctx, "withsettings", map[string]json.RawMessage{key: json.RawMessage(`"a\u0000b"`)})
		var ve *cms.ValidationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), key+" must not contain a NUL") {
			t.Errorf("%s with NUL: %v", key, err)
		}
	}
	if _, err := r.m.UpdateSettings(ctx, "withsettings", map[string]json.RawMessage{"greeting": json.RawMessage(`"héllo"`)}); err != nil {
		t.Fatal(err)
	}
	view, err := r.m.Settings(ctx, "withsettings")
	if err != nil || view.Values["greeting"] != "héllo" {
		t.Fatalf("settings %+v, %v", view, err)
	}
}
