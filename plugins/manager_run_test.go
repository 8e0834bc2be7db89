package plugins

import (
	"context"
	"testing"
)

func TestRunDeliversAndStops(t *testing.T) {
	r := newRig(t, QueueConfig{})
	r.example("audit-log")
	// A manager of its own, run as a server runs it.
	m := r.managerWith(r.db, QueueConfig{})
	content, admin := r.content()
	content.SetHooks(m.Hooks())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()

	if _, err := content.CreateEntry(context.Background(), admin, "posts", map[string]any{"title": "Hello"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the afterSave delivery", func() bool { return r.auditEvents() == 1 && len(r.jobs("audit-log")) == 0 })
	cancel()
	<-done
	// Run wrote the last invocations before returning.
	page, err := m.Logs().Query(context.Background(), "audit-log", LogQuery{Name: "content:afterSave"})
	if err != nil || len(page.Items) != 1 || page.Items[0].Outcome != OutcomeOK {
		t.Fatalf("logs after Run returned: %+v, %v", page, err)
	}
}
