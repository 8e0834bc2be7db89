package plugins

import (
	"context"
	"testing"
	"time"
)

func TestRuntimeDeliversAndStops(t *testing.T) {
	r := newRig(t, QueueConfig{})
	r.example("audit-log")
	rt := NewRuntime(r.db, r.m, RuntimeConfig{Queue: QueueConfig{Poll: time.Hour}})
	content, admin := r.content()
	content.SetHooks(rt.Dispatcher)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()

	if _, err := content.CreateEntry(context.Background(), admin, "posts", map[string]any{"title": "Hello"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the afterSave delivery", func() bool { return r.auditEvents() == 1 && len(r.jobs("audit-log")) == 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Run wrote the last invocations before returning.
	page, err := rt.Logs.Logs(context.Background(), "audit-log", LogQuery{Name: "content:afterSave"})
	if err != nil || len(page.Items) != 1 || page.Items[0].Outcome != OutcomeOK {
		t.Fatalf("logs after Run returned: %+v, %v", page, err)
	}
}
