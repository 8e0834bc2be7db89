package web_test

import (
	"fmt"
	"net/http"
	"testing"
)

// postsCollection is the collection most content tests use.
var postsCollection = map[string]any{
	"name":    "posts",
	"label":   "Posts",
	"options": map[string]any{"public": true},
	"fields": []map[string]any{
		{"name": "title", "type": "string", "required": true, "max": 200},
		{"name": "slug", "type": "slug", "from": "title"},
		{"name": "body", "type": "markdown"},
		{"name": "rating", "type": "integer", "min": 0, "max": 5},
		{"name": "category", "type": "select", "options": []string{"news", "howto", "opinion"}},
		{"name": "tags", "type": "multiselect", "options": []string{"go", "sqlite", "cms"}},
		{"name": "featured", "type": "boolean", "default": false},
		{"name": "code", "type": "string", "unique": true},
	},
}

// entry is the decoded entry shape.
type entry struct {
	ID          string         `json:"id"`
	Collection  string         `json:"collection"`
	Slug        string         `json:"slug"`
	Status      string         `json:"status"`
	Version     int64          `json:"version"`
	Data        map[string]any `json:"data"`
	PublishedAt *string        `json:"publishedAt"`
	ScheduledAt *string        `json:"scheduledAt"`
	HasDraft    bool           `json:"hasDraft"`
	AuthorID    string         `json:"authorId"`
}

type entryList struct {
	Items      []entry `json:"items"`
	NextCursor string  `json:"nextCursor"`
}

func (c *client) mustCreateCollection(def any) {
	c.t.Helper()
	c.do("POST", "/api/collections", def).want(http.StatusCreated)
}

func (c *client) createEntry(collection string, data map[string]any) entry {
	c.t.Helper()
	var e entry
	c.do("POST", "/api/collections/"+collection+"/entries", map[string]any{"data": data}).want(http.StatusCreated).decode(&e)
	return e
}

func (c *client) getEntry(collection, id string) entry {
	c.t.Helper()
	var e entry
	c.do("GET", "/api/collections/"+collection+"/entries/"+id, nil).want(http.StatusOK).decode(&e)
	return e
}

func (c *client) patchEntry(collection, id string, version int64, data map[string]any) *response {
	c.t.Helper()
	return c.do("PATCH", "/api/collections/"+collection+"/entries/"+id, map[string]any{"data": data}, ifMatch(version))
}

func (c *client) action(collection, id, action string, body any) *response {
	c.t.Helper()
	return c.do("POST", "/api/collections/"+collection+"/entries/"+id+"/"+action, body)
}

func (c *client) list(path string) entryList {
	c.t.Helper()
	var l entryList
	c.do("GET", path, nil).want(http.StatusOK).decode(&l)
	return l
}

func ifMatch(v int64) header { return header(fmt.Sprintf(`If-Match: "%d"`, v)) }

// entryCount counts rows straight from the database, to prove a refused
// request wrote nothing.
func entryCount(t *testing.T, ts *testSite) int {
	t.Helper()
	var n int
	if err := ts.Site.DB.Read().QueryRow(`SELECT COUNT(*) FROM entries`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
