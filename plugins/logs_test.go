package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

func TestLogsRecordOutcomesLimitsLinesAndStats(t *testing.T) {
	r := newRig(t, QueueConfig{})
	ctx := context.Background()
	r.inline(`{"id": "mixed", "version": "1.0.0", "name": "mixed", "capabilities": ["content:write"], "hooks": ["content:beforeSave"],
		"limits": {"cpuMs": 50}}`,
		`export default { hooks: { "content:beforeSave": (event, ctx) => {
			switch (event.collection) {
			case "ok": ctx.log.info("fine", { id: event.id }); return;
			case "warn": ctx.log.warn("careful"); return;
			case "throw": throw new Error("broken on purpose");
			case "loop": for (;;) {}
			}
		} } };`)
	for _, coll := range []string{"ok", "ok", "warn", "throw", "loop"} {
		_, err := r.d.BeforeSave(ctx, cms.SaveEvent{Collection: coll, ID: "e", Data: map[string]any{}})
		if (err != nil) != (coll == "throw" || coll == "loop") {
			t.Fatalf("%s: %v", coll, err)
		}
	}
	r.flushLogs()

	all, err := r.logs.Query(ctx, "mixed", LogQuery{})
	if err != nil || len(all.Items) != 5 {
		t.Fatalf("logs: %+v, %v", all, err)
	}
	loop := all.Items[0] // newest first
	if loop.Outcome != OutcomeLimit || loop.Limit != sandbox.LimitCPU || !strings.Contains(loop.Error, "cpu") ||
		loop.Kind != sandbox.KindHook || loop.Name != "content:beforeSave" || loop.Version != "1.0.0" {
		t.Fatalf("the looping invocation: %+v", loop)
	}
	// The log keeps the message and the stack, mapped to the author's file
	// (the throw is on line 5, its `new` at column 24).
	if thrown := all.Items[1]; thrown.Outcome != OutcomeError || thrown.Error != "broken on purpose" ||
		thrown.Stack != "at content:beforeSave (src/plugin.js:5:24)" {
		t.Fatalf("the throwing invocation: %+v", thrown)
	}
	if ok := all.Items[4]; ok.Outcome != OutcomeOK || len(ok.Lines) != 1 || ok.Lines[0].Level != "info" || !strings.Contains(ok.Lines[0].Message, "fine") {
		t.Fatalf("the ok invocation: %+v", ok)
	}

	count := func(q LogQuery) int {
		t.Helper()
		page, err := r.logs.Query(ctx, "mixed", q)
		if err != nil {
			t.Fatal(err)
		}
		return len(page.Items)
	}
	filters := []struct {
		q    LogQuery
		want int
	}{
		{LogQuery{Outcome: "ok"}, 3},
		{LogQuery{Outcome: "error"}, 1},
		{LogQuery{Outcome: "limit"}, 1},
		{LogQuery{Level: "warn"}, 1},
		{LogQuery{Level: "info"}, 3},
		{LogQuery{Kind: "route"}, 0},
		{LogQuery{Name: "content:afterSave"}, 0},
	}
	for _, f := range filters {
		if got := count(f.q); got != f.want {
			t.Errorf("%+v: %d items, want %d", f.q, got, f.want)
		}
	}

	// Paging walks every item once.
	var seen []int64
	cursor := ""
	for range 5 {
		page, err := r.logs.Query(ctx, "mixed", LogQuery{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			seen = append(seen, it.ID)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if len(seen) != 5 || seen[0] != all.Items[0].ID || seen[4] != all.Items[4].ID {
		t.Fatalf("paged ids %v, want the 5 ids newest first", seen)
	}

	st, err := r.logs.Stats(ctx, "mixed")
	if err != nil {
		t.Fatal(err)
	}
	if st.Count != 5 || st.Errors != 2 || st.LimitHits != 1 || st.P95Ms <= 0 || st.P50Ms > st.P95Ms {
		t.Fatalf("stats = %+v", st)
	}
	if st, err := r.logs.Stats(ctx, "nobody"); err != nil || st.Count != 0 {
		t.Fatalf("stats of a plugin without logs: %+v, %v", st, err)
	}
	if _, err := r.m.PluginStats(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("stats of an unknown plugin: %v, want ErrNotFound", err)
	}
	if st, err := r.m.PluginStats(ctx, "mixed"); err != nil || st.Count != 5 {
		t.Fatalf("PluginStats: %+v, %v", st, err)
	}

	for _, bad := range []LogQuery{{Outcome: "fine"}, {Level: "loud"}, {Kind: "cron"}, {Cursor: "abc"}, {Cursor: "-3"}, {Limit: 500}, {Limit: -1}} {
		if _, err := r.logs.Query(ctx, "mixed", bad); !errors.Is(err, ErrBadLogQuery) {
			t.Errorf("%+v: got %v, want ErrBadLogQuery", bad, err)
		}
	}
}

func TestLogsNeverHoldSecrets(t *testing.T) {
	r := newRig(t, QueueConfig{})
	ctx := context.Background()
	const exposed, hidden = "exposed-secret-4711", "hidden-secret-0815"
	r.inline(`{"id": "leaky", "version": "1.0.0", "name": "Leaky", "capabilities": ["content:write"], "hooks": ["content:beforeSave"],
		"settings": [{"key": "token", "label": "Token", "type": "secret", "exposed": true},
		             {"key": "hidden", "label": "Hidden", "type": "secret"}]}`,
		`export default { hooks: { "content:beforeSave": (event, ctx) => {
			ctx.log.info("settings: " + JSON.stringify(ctx.settings));
			ctx.log.warn("the token is " + ctx.settings.token);
			throw new Error("token=" + ctx.settings.token + " hidden=" + ctx.settings.hidden);
		} } };`)
	r.settings("leaky", map[string]any{"token": exposed, "hidden": hidden})
	_, err := r.d.BeforeSave(ctx, cms.SaveEvent{Collection: "posts", ID: "e", Data: map[string]any{}})
	var rej *cms.HookRejection
	if !errors.As(err, &rej) || rej.Message != "token="+redactedSecret+" hidden=undefined" {
		t.Fatalf("rejection %v: want the plugin's message with the exposed secret redacted", err)
	}
	r.flushLogs()
	page, err := r.m.PluginLogs(ctx, "leaky", LogQuery{})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("logs: %+v, %v", page, err)
	}
	out, _ := json.Marshal(page)
	for _, secret := range []string{exposed, hidden} {
		if strings.Contains(string(out), secret) {
			t.Fatalf("a secret reached the logs: %s", out)
		}
	}
	// The exposed secret was seen by the plugin and echoed: it is redacted,
	// not lost from the line.
	if !strings.Contains(page.Items[0].Lines[1].Message, "the token is "+redactedSecret) || !strings.Contains(page.Items[0].Error, "token="+redactedSecret) {
		t.Fatalf("redaction: %s", out)
	}
}

func TestLogsRetentionPerPluginAndAge(t *testing.T) {
	db := openSpec(t, storagetest.Spec(t, ""))
	l := NewLogs(db, LogsConfig{KeepPerPlugin: 3, MaxAge: 24 * time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	now := time.Now()
	rec := func(plugin, name string, at time.Time) InvocationLog {
		return InvocationLog{PluginID: plugin, Kind: sandbox.KindHook, Name: name, StartedAt: at, Outcome: OutcomeOK}
	}
	for i := range 5 {
		l.Record(rec("p1", fmt.Sprint("n", i), now))
	}
	l.Record(rec("p2", "only", now))
	l.Record(rec("p3", "ancient", now.Add(-48*time.Hour)))
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	names := func(plugin string) []string {
		page, err := l.Query(context.Background(), plugin, LogQuery{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, it := range page.Items {
			out = append(out, it.Name)
		}
		return out
	}
	if got := strings.Join(names("p1"), ","); got != "n4,n3,n2" {
		t.Errorf("p1 keeps %s, want its newest three n4,n3,n2", got)
	}
	if got := names("p2"); len(got) != 1 {
		t.Errorf("p2 keeps %v", got)
	}
	if got := names("p3"); len(got) != 0 {
		t.Errorf("p3 keeps %v past the age limit", got)
	}
	if err := l.DeleteAll(context.Background(), "p1"); err != nil || len(names("p1")) != 0 {
		t.Errorf("DeleteAll: %v, %v", err, names("p1"))
	}
}

// The per-plugin bound is enforced once the writer has written a tenth of
// it for the plugin since its last sweep: in between a plugin holds at most
// that much more, never less than the bound.
func TestLogsRetentionSweepsEveryTenth(t *testing.T) {
	db, err := storage.OpenSpec(context.Background(), storagetest.Spec(t, ""), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// Batches larger than any step, so only Flush writes: a batch filling
	// while the rows are recorded would wake the writer, which could take
	// all but the last few rows and leave Flush fewer than a tenth, unswept
	// (kept counts within the bound's tenth, but not the exact ones below).
	l := NewLogs(db, LogsConfig{KeepPerPlugin: 100, FlushEvery: time.Hour, BatchSize: 1000})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	n := 0
	write := func(count int) int64 {
		t.Helper()
		for range count {
			l.Record(InvocationLog{PluginID: "p", Kind: sandbox.KindHook, Name: fmt.Sprint("n", n), StartedAt: time.Now(), Outcome: OutcomeOK})
			n++
		}
		if err := l.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		st, err := l.Stats(context.Background(), "p")
		if err != nil {
			t.Fatal(err)
		}
		return st.Count
	}
	for _, step := range []struct {
		add  int
		want int64
	}{
		{120, 100}, // the plugin's first batch is swept
		{5, 105},   // 5 since the sweep: fewer than a tenth of 100
		{4, 109},
		{1, 100},   // 10 since: swept
		{300, 100}, // one batch larger than the bound
	} {
		if got := write(step.add); got != step.want {
			t.Fatalf("after %d more rows (%d in all): %d kept, want %d", step.add, n, got, step.want)
		}
	}
	page, err := l.Query(context.Background(), "p", LogQuery{Limit: 1})
	if err != nil || len(page.Items) != 1 || page.Items[0].Name != fmt.Sprint("n", n-1) {
		t.Fatalf("newest row: %+v, %v; want n%d", page, err, n-1)
	}
}
