package examples

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/pilcrow-cms/pilcrow/plugins"
	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/sandbox/egress"
)

// TestAuditLogHooks runs each hook with its fixture through plugins.RunLocal.
// RunLocal's site lives for one invocation, so this checks that each hook
// records (the log line names the kind); TestAuditLogHistory reads the
// records back through the route.
func TestAuditLogHooks(t *testing.T) {
	ex := load(t, "audit-log")
	tests := []struct{ hook, fixture, kind string }{
		{"content:afterSave", "content.afterSave.json", "created"},
		{"content:afterSave", "content.afterSave.updated.json", "updated"},
		{"content:afterPublish", "content.afterPublish.json", "published"},
		{"content:afterUnpublish", "content.afterUnpublish.json", "unpublished"},
		{"content:afterDelete", "content.afterDelete.json", "deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			res, err := ex.run(t, plugins.LocalRun{Name: tt.hook, Event: ex.fixture(t, tt.fixture)})
			if err != nil {
				t.Fatalf("hook failed: %v", err)
			}
			if !hasLog(res, "info", "recorded "+tt.kind) {
				t.Errorf("logs %+v, want \"recorded %s\"", res.Logs, tt.kind)
			}
		})
	}

	// On a fresh site the route answers an empty page.
	res, err := ex.run(t, plugins.LocalRun{Kind: sandbox.KindRoute, Name: "events", Event: ex.fixture(t, "route.events.json")})
	if err != nil {
		t.Fatalf("route failed: %v", err)
	}
	if got := string(res.Value); got != `{"items":[],"nextCursor":null}` {
		t.Errorf("route on an empty site = %s", got)
	}
}

// auditEvent is one stored event as the route returns it.
type auditEvent struct {
	Kind       string  `json:"kind"`
	EntryID    string  `json:"entryId"`
	Collection string  `json:"collection"`
	Title      *string `json:"title"`
	At         string  `json:"at"`
}

type auditPage struct {
	Items      []auditEvent `json:"items"`
	NextCursor *string      `json:"nextCursor"`
}

// TestAuditLogHistory records events with the hooks and reads them with the
// route, on one site that outlives the invocations.
func TestAuditLogHistory(t *testing.T) {
	ex := load(t, "audit-log")
	s := newSite(t, egress.Options{}, nil)
	hook := func(name, fixture string, settings map[string]any) {
		t.Helper()
		if _, err := s.run(t, ex, nil, sandbox.KindHook, name, ex.fixture(t, fixture), settings, nil); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	route := func(method string, query map[string]string) (json.RawMessage, auditPage) {
		t.Helper()
		res, err := s.run(t, ex, nil, sandbox.KindRoute, "events", routeRequest(t, method, "events", query), nil, nil)
		if err != nil {
			t.Fatalf("route: %v", err)
		}
		var p auditPage
		_ = json.Unmarshal(res.Value, &p) // error responses are checked raw
		return res.Value, p
	}
	const post, page = "01JB7V0A1B2C3D4E5F6G7H8J9K", "01JB7V1M2N3P4Q5R6S7T8V9W0X"

	hook("content:afterSave", "content.afterSave.json", nil)
	hook("content:afterPublish", "content.afterPublish.json", nil)
	hook("content:afterDelete", "content.afterDelete.json", nil)
	hook("content:afterUnpublish", "content.afterUnpublish.json", nil)

	_, all := route("GET", nil)
	if len(all.Items) != 4 || all.NextCursor != nil {
		t.Fatalf("all events: %+v, want 4 on one page", all)
	}
	for i := 1; i < len(all.Items); i++ {
		if all.Items[i-1].At < all.Items[i].At {
			t.Errorf("events not newest first: %s before %s", all.Items[i-1].At, all.Items[i].At)
		}
	}

	_, one := route("GET", map[string]string{"entryId": post})
	var kinds []string
	for _, e := range one.Items {
		if e.EntryID != post || e.Collection != "posts" || e.Title == nil || *e.Title != "Hello, world" {
			t.Errorf("event %+v does not belong to the post", e)
		}
		kinds = append(kinds, e.Kind)
	}
	slices.Sort(kinds)
	if !slices.Equal(kinds, []string{"created", "published", "unpublished"}) {
		t.Errorf("the post's history has %v", kinds)
	}

	_, deleted := route("GET", map[string]string{"kind": "deleted"})
	if len(deleted.Items) != 1 || deleted.Items[0].EntryID != page || *deleted.Items[0].Title != "Old contact page" {
		t.Errorf("deleted events: %+v", deleted.Items)
	}

	// Paging: one per page, following nextCursor, visits every event once.
	var seen []string
	query := map[string]string{"limit": "1"}
	for range 10 {
		_, p := route("GET", query)
		for _, e := range p.Items {
			seen = append(seen, e.At+e.Kind)
		}
		if p.NextCursor == nil {
			break
		}
		query["cursor"] = *p.NextCursor
	}
	if len(seen) != 4 || len(slices.Compact(slices.Sorted(slices.Values(seen)))) != 4 {
		t.Errorf("paging visited %v, want the 4 events once each", seen)
	}

	for _, bad := range []struct {
		method string
		query  map[string]string
		want   string
	}{
		{"GET", map[string]string{"kind": "edited"}, `{"status":400,"body":{"error":"kind must be one of created, updated, deleted, published, unpublished"}}`},
		{"POST", nil, `{"status":405,"headers":{"allow":"GET"},"body":{"error":"use GET"}}`},
		{"GET", map[string]string{"cursor": "not-a-cursor"}, `{"status":400,"body":{"error":"cursor is not valid: pass the nextCursor of a previous page"}}`},
	} {
		raw, _ := route(bad.method, bad.query)
		if string(raw) != bad.want {
			t.Errorf("%s %v = %s, want %s", bad.method, bad.query, raw, bad.want)
		}
		// The host sends these answers as they are (Allow included).
		res, err := plugins.ParseRouteResult(raw)
		if err != nil {
			t.Errorf("%s %v: the host refuses the answer: %v", bad.method, bad.query, err)
		} else if bad.method == "POST" && (res.Status != 405 || res.Header.Get("Allow") != "GET") {
			t.Errorf("405 answer sent as %d with Allow %q", res.Status, res.Header.Get("Allow"))
		}
	}

	// With keepEvents 3, the next event (an update) removes the oldest two.
	hook("content:afterSave", "content.afterSave.updated.json", map[string]any{"keepEvents": 3})
	_, pruned := route("GET", nil)
	if len(pruned.Items) != 3 || !slices.ContainsFunc(pruned.Items, func(e auditEvent) bool {
		return e.Kind == "updated" && e.Title != nil && *e.Title == "Hello again, world"
	}) {
		t.Errorf("after pruning to 3: %+v, want 3 events including the update", pruned.Items)
	}
}
