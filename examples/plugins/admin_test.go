package examples

import (
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/sandbox/egress"
)

// adminAnswer is what an admin route answers, decoded loosely: the host's
// own checks are web/admin's; here the examples' content is checked.
type adminAnswer struct {
	Blocks []map[string]any `json:"blocks"`
	Toast  string           `json:"toast"`
}

func (a adminAnswer) block(typ string) map[string]any {
	for _, b := range a.Blocks {
		if b["type"] == typ {
			return b
		}
	}
	return nil
}

func (a adminAnswer) all(typ string) []map[string]any {
	var out []map[string]any
	for _, b := range a.Blocks {
		if b["type"] == typ {
			out = append(out, b)
		}
	}
	return out
}

// adminCall runs the admin route with the body the host sends.
func (s *site) adminCall(t *testing.T, ex *example, body map[string]any, settings map[string]any) adminAnswer {
	t.Helper()
	if body["query"] == nil {
		body["query"] = map[string]string{}
	}
	ev, err := json.Marshal(map[string]any{"method": "POST", "path": "admin", "query": map[string]string{},
		"headers": map[string]string{"content-type": "application/json"}, "body": body})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.run(t, ex, nil, sandbox.KindRoute, "admin", ev, settings, nil)
	if err != nil {
		t.Fatalf("admin %v: %v", body, err)
	}
	var a adminAnswer
	if err := json.Unmarshal(res.Value, &a); err != nil {
		t.Fatalf("admin answer %s: %v", res.Value, err)
	}
	return a
}

// The audit log's History page pages through the events with the table's
// cursor and filters by kind and entry; its widget counts the last day.
func TestAuditLogAdmin(t *testing.T) {
	ex := load(t, "audit-log")
	s := newSite(t, egress.Options{}, nil)
	for _, f := range []string{"content.afterSave.json", "content.afterPublish.json", "content.afterUnpublish.json", "content.afterDelete.json"} {
		hook := "content:" + strings.Split(strings.TrimPrefix(f, "content."), ".")[0]
		if _, err := s.run(t, ex, nil, sandbox.KindHook, hook, ex.fixture(t, f), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	page := s.adminCall(t, ex, map[string]any{"type": "page", "path": "/history"}, nil)
	table := page.block("table")
	if table == nil || len(table["rows"].([]any)) != 4 || table["nextCursor"] != nil {
		t.Fatalf("history table = %v", table)
	}
	if page.block("form") == nil || page.block("text") == nil {
		t.Fatalf("history page lacks its filter form or intro: %v", page.Blocks)
	}

	filtered := s.adminCall(t, ex, map[string]any{"type": "action", "actionId": "filter", "path": "/history",
		"values": map[string]any{"kind": "deleted", "entryId": ""}}, nil)
	rows := filtered.block("table")["rows"].([]any)
	if len(rows) != 1 || rows[0].(map[string]any)["kind"] != "deleted" {
		t.Fatalf("filtered by kind: %v", rows)
	}
	inputs := filtered.block("form")["inputs"].([]any)
	if inputs[0].(map[string]any)["value"] != "deleted" {
		t.Fatalf("the form forgot the filter: %v", inputs[0])
	}

	// A stale cursor says so and shows the newest events.
	stale := s.adminCall(t, ex, map[string]any{"type": "page", "path": "/history", "query": map[string]string{"cursor": "bogus"}}, nil)
	if texts := stale.all("text"); len(texts) != 2 || !strings.Contains(texts[1]["text"].(string), "gone") || len(stale.block("table")["rows"].([]any)) != 4 {
		t.Fatalf("stale cursor page = %v", stale.Blocks)
	}

	widget := s.adminCall(t, ex, map[string]any{"type": "widget", "id": "recent"}, nil)
	items := widget.block("stats")["items"].([]any)
	if v := items[0].(map[string]any)["value"]; v != float64(4) {
		t.Fatalf("widget counts %v changes, want 4", v)
	}
	if widget.block("link")["href"] != "/admin/plugins/audit-log/history" {
		t.Fatalf("widget link = %v", widget.block("link"))
	}
}

// The webhook records each delivery; the Deliveries page lists it with a
// Redeliver button, which sends the recorded payload again.
func TestWebhookAdmin(t *testing.T) {
	ex := load(t, "webhook")
	rc := &receiver{status: http.StatusBadGateway}
	srv := httptest.NewTLSServer(rc)
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	s := newSite(t, egress.Options{RootCAs: roots, UnsafeAllowLoopback: true}, fakeContent{})
	settings := map[string]any{"url": srv.URL + "/hooks"}

	if _, err := s.run(t, ex, nil, sandbox.KindHook, "content:afterPublish", ex.fixture(t, "content.afterPublish.json"), settings, nil); err == nil {
		t.Fatal("a refused delivery did not fail the hook")
	}
	// The queue's retry updates the same record.
	if _, err := s.run(t, ex, nil, sandbox.KindHook, "content:afterPublish", ex.fixture(t, "content.afterPublish.json"), settings, nil); err == nil {
		t.Fatal("a refused delivery did not fail the hook")
	}
	page := s.adminCall(t, ex, map[string]any{"type": "page", "path": "/deliveries"}, settings)
	rows := page.block("table")["rows"].([]any)
	if len(rows) != 1 {
		t.Fatalf("deliveries = %v", rows)
	}
	row := rows[0].(map[string]any)
	if row["status"] != "failed" || row["httpStatus"] != float64(502) || row["attempts"] != float64(2) || row["entry"] != "posts/hello-world-2026" {
		t.Fatalf("delivery row = %v", row)
	}
	button := page.block("button")
	if button == nil || button["actionId"] != "redeliver" || button["value"] == "" {
		t.Fatalf("redeliver button = %v", button)
	}

	rc.mu.Lock()
	rc.status = http.StatusNoContent
	rc.mu.Unlock()
	ans := s.adminCall(t, ex, map[string]any{"type": "action", "actionId": "redeliver", "path": "/deliveries",
		"values": map[string]any{"value": button["value"]}}, settings)
	if ans.Toast != "Redelivered posts/hello-world-2026: the receiver answered HTTP 204." || len(ans.Blocks) != 0 {
		t.Fatalf("redeliver answer = %+v", ans)
	}
	got := rc.deliveries()
	if len(got) != 3 || string(got[2].body) != string(got[0].body) {
		t.Fatalf("the redelivery is not the recorded payload: %d requests", len(got))
	}
	row = s.adminCall(t, ex, map[string]any{"type": "page", "path": "/deliveries"}, settings).block("table")["rows"].([]any)[0].(map[string]any)
	if row["status"] != "delivered" || row["attempts"] != float64(3) {
		t.Fatalf("after redelivery: %v", row)
	}

	// Redelivering what is not recorded, or with no receiver saved, says so.
	if a := s.adminCall(t, ex, map[string]any{"type": "action", "actionId": "redeliver", "values": map[string]any{"value": "nope"}}, settings); !strings.Contains(a.Toast, "no longer recorded") {
		t.Fatalf("unknown delivery: %+v", a)
	}
	if a := s.adminCall(t, ex, map[string]any{"type": "action", "actionId": "redeliver", "values": map[string]any{"value": button["value"]}}, nil); !strings.Contains(a.Toast, "Receiver URL setting is empty") {
		t.Fatalf("no receiver: %+v", a)
	}
}
