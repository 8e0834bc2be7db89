package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// TestContractRouteClasses drives one request of each kind through the
// harness client, whose every answer the contract check validates against
// the document (contract_test.go), and checks entry data against the
// collection's own generated schema (Data_<name>).
func TestContractRouteClasses(t *testing.T) {
	ts := newTestSite(t)
	admin := ts.as(cms.RoleAdmin)
	admin.mustCreateCollection(postsCollection)

	// Users and tokens.
	var u cms.User
	admin.do("POST", "/api/users", map[string]any{"email": "ed@example.com", "name": "Ed", "role": "editor", "password": testPassword}).want(http.StatusCreated).decode(&u)
	admin.do("GET", "/api/users", nil).want(http.StatusOK)
	admin.do("GET", "/api/users/"+u.ID, nil).want(http.StatusOK)
	admin.do("PATCH", "/api/users/"+u.ID, map[string]any{"name": "Edna"}).want(http.StatusOK)
	var tok struct{ ID, Token string }
	admin.do("POST", "/api/tokens", map[string]any{"name": "ci"}).want(http.StatusCreated).decode(&tok)
	bearer := ts.anon()
	bearer.Bearer = tok.Token
	bearer.do("GET", "/api/tokens", nil).want(http.StatusOK)
	bearer.do("GET", "/api/auth/session", nil).want(http.StatusOK)

	// Collections.
	admin.do("GET", "/api/collections", nil).want(http.StatusOK)
	admin.do("GET", "/api/collections/posts", nil).want(http.StatusOK)

	// Entries through their whole life, by bearer token.
	e := bearer.createEntry("posts", map[string]any{"title": "Hello world", "rating": 4, "tags": []string{"go"}, "category": "news", "body": "# Hi"})
	res := bearer.do("PATCH", "/api/collections/posts/entries/"+e.ID, map[string]any{"data": map[string]any{"title": "Hello again"}}, ifMatch(e.Version)).want(http.StatusOK)
	res.decode(&e)
	bearer.do("GET", "/api/collections/posts/entries/"+e.ID, nil, header(`If-None-Match: "`+fmt.Sprint(e.Version)+`"`)).want(http.StatusNotModified)
	bearer.action("posts", e.ID, "publish", nil).want(http.StatusOK).decode(&e)
	bearer.do("GET", "/api/collections/posts/entries/"+e.ID+"/revisions", nil).want(http.StatusOK)
	bearer.do("GET", "/api/collections/posts/entries/"+e.ID+"/revisions/1", nil).want(http.StatusOK)
	bearer.do("GET", "/api/collections/posts/entries/"+e.ID+"/revisions/diff?from=1&to=2", nil).want(http.StatusOK)
	bearer.do("GET", "/api/collections/posts/entries?sort=-title&limit=5&filter[rating][gte]=1", nil).want(http.StatusOK)

	// Public delivery, anonymous.
	anon := ts.anon()
	anon.do("GET", "/api/public/posts", nil).want(http.StatusOK)
	pub := anon.do("GET", "/api/public/posts/"+e.Slug, nil).want(http.StatusOK)
	anon.do("GET", "/api/public/posts/"+e.Slug, nil, header("If-None-Match: "+pub.Header.Get("ETag"))).want(http.StatusNotModified)

	// Problems of several kinds are documented answers too.
	anon.do("GET", "/api/collections", nil).want(http.StatusUnauthorized)
	bearer.do("GET", "/api/collections/posts/entries?limit=0", nil).want(http.StatusBadRequest)
	bearer.do("POST", "/api/collections/posts/entries", map[string]any{"data": map[string]any{"rating": 9}}).want(http.StatusUnprocessableEntity)
	bearer.do("PATCH", "/api/collections/posts/entries/"+e.ID, map[string]any{"data": map[string]any{"title": "x"}}, ifMatch(1)).want(http.StatusPreconditionFailed)

	bearer.do("POST", "/api/collections/posts/entries/"+e.ID+"/unpublish", nil).want(http.StatusOK)
	bearer.do("DELETE", "/api/collections/posts/entries/"+e.ID, nil).want(http.StatusOK)
	bearer.do("POST", "/api/collections/posts/entries/"+e.ID+"/restore", nil).want(http.StatusOK)
	bearer.do("POST", "/api/collections/posts/entries/"+e.ID+"/revisions/1/restore", nil).want(http.StatusOK).decode(&e)

	// The entry's data matches the collection's generated schema.
	raw, _ := fetchDoc(t, admin)
	data := compileComponent(t, raw, "Data_posts")
	for _, path := range []string{"/api/collections/posts/entries/" + e.ID, "/api/collections/posts/entries"} {
		var body map[string]any
		admin.do("GET", path, nil).want(http.StatusOK).decode(&body)
		items, _ := body["items"].([]any)
		if items == nil {
			items = []any{body}
		}
		for _, it := range items {
			if err := data.Validate(it.(map[string]any)["data"]); err != nil {
				t.Errorf("GET %s: data does not match Data_posts: %v", path, err)
			}
		}
	}
	// And the generated schema is strict enough to refuse wrong data.
	for _, bad := range []string{`{"rating": "four"}`, `{"rating": 9}`, `{"tags": ["rust"]}`, `{"slug": "Not A Slug"}`} {
		var v any
		_ = json.Unmarshal([]byte(bad), &v)
		if data.Validate(v) == nil {
			t.Errorf("Data_posts accepted %s", bad)
		}
	}

	// Media: upload, metadata, the public file URLs.
	m := admin.mustUpload(filePart("dot.png", "image/png", testPNG(t, 2, 2)), textPart("alt", "a dot"))
	admin.do("GET", "/api/media?limit=5&owner=me", nil).want(http.StatusOK)
	admin.do("PATCH", "/api/media/"+m.ID, map[string]any{"title": "Dot"}).want(http.StatusOK)
	anon.do("HEAD", "/media/"+m.ID, nil).want(http.StatusOK)
	anon.do("GET", m.URL, nil).want(http.StatusOK)
	anon.do("GET", "/healthz", nil).want(http.StatusOK)
	admin.do("DELETE", "/api/media/"+m.ID, nil).want(http.StatusNoContent)

	// Clean-up routes.
	bearer.do("DELETE", "/api/tokens/"+tok.ID, nil).want(http.StatusNoContent)
	admin.do("DELETE", "/api/users/"+u.ID, nil).want(http.StatusNoContent)
	admin.do("POST", "/api/auth/logout", nil).want(http.StatusNoContent)
}

// compileComponent compiles one self-contained component schema of the
// served document with an independent JSON Schema implementation.
func compileComponent(t *testing.T, doc []byte, name string) *jsonschema.Schema {
	t.Helper()
	var d struct {
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	s, ok := d.Components.Schemas[name]
	if !ok {
		t.Fatalf("no component %s", name)
	}
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	if err := c.AddResource(name+".json", strings.NewReader(string(s))); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(name + ".json")
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	return sch
}
