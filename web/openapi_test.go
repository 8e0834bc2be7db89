package web_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/pilcrow-cms/pilcrow/cms"
)

type openAPIDoc struct {
	OpenAPI    string                               `json:"openapi"`
	Paths      map[string]map[string]map[string]any `json:"paths"`
	Components struct {
		Schemas         map[string]map[string]any `json:"schemas"`
		SecuritySchemes map[string]map[string]any `json:"securitySchemes"`
	} `json:"components"`
}

func fetchDoc(t *testing.T, c *client) ([]byte, openAPIDoc) {
	t.Helper()
	res := c.do("GET", "/api/openapi.json", nil).want(http.StatusOK)
	var doc openAPIDoc
	res.decode(&doc)
	return res.Body, doc
}

// chiToOpenAPI writes a chi pattern as an OpenAPI path: no trailing slash,
// the catch-all as {route}.
func chiToOpenAPI(p string) string {
	p = strings.ReplaceAll(p, "/*", "/{route}")
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	return p
}

// TestOpenAPICoversRouter walks the real router: every /api route (and the
// media file URLs and /healthz) must be in the document and every operation
// of the document must be a route.
func TestOpenAPICoversRouter(t *testing.T) {
	ts := newTestSite(t)
	_, doc := fetchDoc(t, ts.anon())
	srv := ts.Site.Handler()
	routed := map[string]bool{}
	err := chi.Walk(srv.Routes(), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		documentedPrefix := strings.HasPrefix(route, "/api/") || strings.HasPrefix(route, "/media/") || isProbe(route)
		if !documentedPrefix || method == http.MethodConnect || method == "QUERY" {
			return nil // OpenAPI 3.1 has no CONNECT or QUERY operations
		}
		routed[strings.ToLower(method)+" "+chiToOpenAPI(route)] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for method := range item {
			documented[method+" "+path] = true
		}
	}
	for r := range routed {
		if !documented[r] {
			t.Errorf("route %s is not in /api/openapi.json: add a row to apiRoutes (web/openapi.go)", r)
		}
	}
	for d := range documented {
		if !routed[d] {
			t.Errorf("/api/openapi.json names %s, which the router does not serve", d)
		}
	}
	if len(routed) < 40 {
		t.Errorf("walked only %d /api routes; the walk is broken", len(routed))
	}
}

// TestOpenAPIDocumentIsValid checks the document with libopenapi's validator.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	ts := newTestSite(t)
	ts.as(cms.RoleAdmin).mustCreateCollection(allFieldsCollection)
	raw, doc := fetchDoc(t, ts.anon())
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	if _, err := newContract(raw); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"sessionCookie", "csrfHeader", "bearerToken"} {
		if doc.Components.SecuritySchemes[name] == nil {
			t.Errorf("security scheme %s missing", name)
		}
	}
	for _, name := range []string{"Problem", "FieldError", "Entry", "PublicEntry", "Collection", "Media", "User", "Data_kitchen", "Entry_kitchen"} {
		if doc.Components.Schemas[name] == nil {
			t.Errorf("component schema %s missing", name)
		}
	}
	// Every operation names its auth and a problem+json default answer.
	for path, item := range doc.Paths {
		for method, op := range item {
			if op["security"] == nil {
				t.Errorf("%s %s has no security requirement", method, path)
			}
			resp, _ := op["responses"].(map[string]any)
			if resp["default"] == nil {
				t.Errorf("%s %s has no default problem response", method, path)
			}
		}
	}
}

var allFieldsCollection = map[string]any{"name": "kitchen", "label": "Kitchen sink", "fields": []map[string]any{
	{"name": "title", "type": "string", "required": true, "max": 80},
	{"name": "body", "type": "markdown"},
	{"name": "notes", "type": "text", "min": 2},
	{"name": "price", "type": "number", "min": 0},
	{"name": "count", "type": "integer", "max": 10},
	{"name": "done", "type": "boolean"},
	{"name": "when", "type": "datetime"},
	{"name": "size", "type": "select", "options": []string{"s", "m", "l"}},
	{"name": "tags", "type": "multiselect", "options": []string{"a", "b"}, "max": 2},
	{"name": "slug", "type": "slug", "from": "title"},
	{"name": "cover", "type": "media"},
	{"name": "extra", "type": "json"},
}}

// TestOpenAPICollectionSchemas checks each field type's schema and that a
// field change shows in the next document (no stale cache).
func TestOpenAPICollectionSchemas(t *testing.T) {
	ts := newTestSite(t)
	admin := ts.as(cms.RoleAdmin)
	admin.mustCreateCollection(allFieldsCollection)
	_, doc := fetchDoc(t, admin)
	props, _ := doc.Components.Schemas["Data_kitchen"]["properties"].(map[string]any)
	want := map[string]map[string]any{
		"title": {"type": "string", "maxLength": 80.0},
		"body":  {"type": "string", "contentMediaType": "text/markdown"},
		"notes": {"type": "string", "minLength": 2.0},
		"price": {"type": "number", "minimum": 0.0},
		"count": {"type": "integer", "maximum": 10.0},
		"done":  {"type": "boolean"},
		"when":  {"type": "string", "format": "date-time"},
		"size":  {"type": "string", "enum": []any{"s", "m", "l"}},
		"tags":  {"type": "array", "maxItems": 2.0},
		"slug":  {"type": "string", "pattern": "^[a-z0-9]+(?:-[a-z0-9]+)*$"},
		"cover": {"type": "string", "format": "uuid"},
		"extra": {"x-pilcrow-type": "json"},
	}
	for name, w := range want {
		got, _ := props[name].(map[string]any)
		if got == nil {
			t.Errorf("Data_kitchen has no property %s", name)
			continue
		}
		for k, v := range w {
			gb, _ := json.Marshal(got[k])
			wb, _ := json.Marshal(v)
			if string(gb) != string(wb) {
				t.Errorf("Data_kitchen.%s.%s = %s, want %s", name, k, gb, wb)
			}
		}
	}
	if _, typed := props["extra"].(map[string]any)["type"]; typed {
		t.Errorf("a json field must accept any value, got %v", props["extra"])
	}

	// A field added, one removed: the next document shows both changes.
	admin.do("PATCH", "/api/collections/kitchen", map[string]any{"fields": []map[string]any{
		{"name": "title", "type": "string", "required": true}, {"name": "rating", "type": "integer"},
	}}).want(http.StatusOK)
	_, doc = fetchDoc(t, admin)
	props, _ = doc.Components.Schemas["Data_kitchen"]["properties"].(map[string]any)
	names := make([]string, 0, len(props))
	for k := range props {
		names = append(names, k)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"rating", "title"}) {
		t.Errorf("after the field change Data_kitchen has %v, want [rating title]", names)
	}
	// A new collection gets its schemas; a deleted one loses them.
	admin.mustCreateCollection(map[string]any{"name": "notes", "label": "Notes", "fields": []map[string]any{{"name": "text", "type": "text"}}})
	admin.do("DELETE", "/api/collections/kitchen", nil).want(http.StatusNoContent)
	_, doc = fetchDoc(t, admin)
	if doc.Components.Schemas["Entry_notes"] == nil || doc.Components.Schemas["Data_kitchen"] != nil {
		t.Errorf("after create notes / delete kitchen: Entry_notes=%v Data_kitchen=%v", doc.Components.Schemas["Entry_notes"] != nil, doc.Components.Schemas["Data_kitchen"] != nil)
	}
}

// TestContractCatchesDrift feeds the contract validator answers a drifted
// handler would send; each must be refused, and the faithful one accepted.
func TestContractCatchesDrift(t *testing.T) {
	ts := newTestSite(t)
	ct, err := siteContract(ts)
	if err != nil {
		t.Fatal(err)
	}
	const entryID = "0195f0a4-7c1e-7b66-a1b4-5a8d2c1e9f00"
	entry := func(edit func(m map[string]any)) string {
		m := map[string]any{"id": entryID, "collection": "posts", "slug": "hello", "status": "draft", "version": 1,
			"data": map[string]any{"title": "Hello"}, "createdAt": "2026-01-02T15:04:05Z", "updatedAt": "2026-01-02T15:04:05Z",
			"publishedAt": nil, "hasDraft": false}
		if edit != nil {
			edit(m)
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	problemBody := `{"type":"about:blank","title":"Not Found","status":404,"detail":"no such entry"}`
	tests := []struct {
		name, method, path string
		status             int
		ctype, body        string
		wantErr            bool
	}{
		{"faithful entry", "GET", "/api/collections/posts/entries/" + entryID, 200, "application/json", entry(nil), false},
		{"faithful problem", "GET", "/api/collections/posts/entries/" + entryID, 404, "application/problem+json", problemBody, false},
		{"version as a string", "GET", "/api/collections/posts/entries/" + entryID, 200, "application/json", entry(func(m map[string]any) { m["version"] = "1" }), true},
		{"status missing", "GET", "/api/collections/posts/entries/" + entryID, 200, "application/json", entry(func(m map[string]any) { delete(m, "status") }), true},
		{"unknown status", "GET", "/api/collections/posts/entries/" + entryID, 200, "application/json", entry(func(m map[string]any) { m["status"] = "live" }), true},
		{"undocumented member", "GET", "/api/collections/posts/entries/" + entryID, 200, "application/json", entry(func(m map[string]any) { m["authorEmail"] = "a@example.com" }), true},
		{"list as a bare array", "GET", "/api/collections", 200, "application/json", `[]`, true},
		{"problem sent as plain JSON", "GET", "/api/collections/posts", 404, "application/json", problemBody, true},
		{"problem without a title", "GET", "/api/collections/posts", 404, "application/problem+json", `{"type":"about:blank","status":404}`, true},
		{"undocumented success status", "POST", "/api/collections/posts/entries", 200, "application/json", entry(nil), true},
		{"session without user", "GET", "/api/auth/session", 200, "application/json", `{"csrfToken":"x"}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, ts.URL+tt.path, nil)
			h := http.Header{"Content-Type": {tt.ctype}}
			err := ct.check(req, tt.status, h, []byte(tt.body))
			if (err != nil) != tt.wantErr {
				t.Errorf("check: err = %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}

// The delivery options front-ends rely on are in the document where they
// work: expansion and rendering on reads, variants on media files,
// Idempotency-Key on creates.
func TestOpenAPIDeliveryParameters(t *testing.T) {
	ts := newTestSite(t)
	_, doc := fetchDoc(t, ts.anon())
	params := func(path, method string) []string {
		op := doc.Paths[path][method]
		if op == nil {
			t.Fatalf("%s %s is not in the document", method, path)
		}
		var names []string
		list, _ := op["parameters"].([]any)
		for _, p := range list {
			if m, ok := p.(map[string]any); ok {
				names = append(names, m["name"].(string))
			}
		}
		return names
	}
	for _, tt := range []struct {
		path, method string
		want         []string
	}{
		{"/api/collections/{name}/entries", "get", []string{"expand", "render"}},
		{"/api/collections/{name}/entries/{id}", "get", []string{"expand", "render"}},
		{"/api/public/{collection}", "get", []string{"expand", "render"}},
		{"/api/public/{collection}/{slug}", "get", []string{"expand", "render"}},
		{"/media/{id}", "get", []string{"w", "h", "fit", "format"}},
		{"/api/collections/{name}/entries", "post", []string{"Idempotency-Key"}},
		{"/api/media", "post", []string{"Idempotency-Key"}},
		{"/api/collections", "post", []string{"Idempotency-Key"}},
		{"/api/users", "post", []string{"Idempotency-Key"}},
	} {
		got := params(tt.path, tt.method)
		for _, w := range tt.want {
			if !slices.Contains(got, w) {
				t.Errorf("%s %s lacks parameter %s (has %v)", tt.method, tt.path, w, got)
			}
		}
	}
}
