package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// expandSite has people (public), vaults (private) and stories whose fields
// point at both and at a media item.
func expandSite(t *testing.T) (ts *testSite, editor *client, ids map[string]string) {
	t.Helper()
	ts = newTestSite(t)
	admin := ts.as(cms.RoleAdmin)
	slugged := func(extra ...map[string]any) []map[string]any {
		return append([]map[string]any{{"name": "title", "type": "string"}, {"name": "slug", "type": "slug", "from": "title"},
			{"name": "bio", "type": "markdown"}}, extra...)
	}
	admin.mustCreateCollection(map[string]any{"name": "people", "label": "People", "options": map[string]any{"public": true}, "fields": slugged()})
	admin.mustCreateCollection(map[string]any{"name": "vaults", "label": "Vaults", "fields": slugged()})
	admin.mustCreateCollection(map[string]any{"name": "stories", "label": "Stories", "options": map[string]any{"public": true},
		"fields": slugged(
			map[string]any{"name": "author", "type": "reference", "collection": "people"},
			map[string]any{"name": "editor", "type": "reference", "collection": "people"},
			map[string]any{"name": "vault", "type": "reference", "collection": "vaults"},
			map[string]any{"name": "cover", "type": "media"},
			map[string]any{"name": "rating", "type": "integer"})})
	editor = ts.as(cms.RoleEditor)
	ids = map[string]string{}
	pub := func(col, key string, data map[string]any) {
		e := editor.createEntry(col, data)
		editor.action(col, e.ID, "publish", nil).want(http.StatusOK)
		ids[key] = e.ID
	}
	pub("people", "ada", map[string]any{"title": "Ada", "bio": "*mathematician*"})
	ids["draft"] = editor.createEntry("people", map[string]any{"title": "Draft person"}).ID
	pub("vaults", "vault", map[string]any{"title": "Gold"})
	m := editor.mustUpload(filePart("c.png", "image/png", testPNG(t, 4, 3)), textPart("alt", "a cover"))
	ids["cover"] = m.ID
	pub("stories", "story", map[string]any{"title": "One", "bio": "Hello <script>alert(1)</script> **world**",
		"author": ids["ada"], "editor": ids["draft"], "vault": ids["vault"], "cover": m.ID, "rating": 3})
	return ts, editor, ids
}

func TestExpandAndRender(t *testing.T) {
	ts, editor, ids := expandSite(t)
	author := ts.as(cms.RoleAuthor)
	anon := ts.anon()

	dataOf := func(res *response, list bool) map[string]any {
		t.Helper()
		res.want(http.StatusOK)
		var v struct {
			Data  map[string]any   `json:"data"`
			Items []map[string]any `json:"items"`
		}
		res.decode(&v)
		if list {
			if len(v.Items) != 1 {
				t.Fatalf("%s: %d items, want 1", res.req, len(v.Items))
			}
			return v.Items[0]["data"].(map[string]any)
		}
		return v.Data
	}
	obj := func(data map[string]any, field string) map[string]any {
		t.Helper()
		m, ok := data[field].(map[string]any)
		if !ok {
			t.Fatalf("%s = %#v, want an expanded object", field, data[field])
		}
		return m
	}

	const q = "?expand=author,editor,vault,cover&render=html"
	for _, tc := range []struct {
		name   string
		c      *client
		path   string
		list   bool
		public bool
	}{
		{"editor, one entry", editor, "/api/collections/stories/entries/" + ids["story"] + q, false, false},
		{"author, list", author, "/api/collections/stories/entries" + q, true, false},
		{"public, one entry", anon, "/api/public/stories/one" + q, false, true},
		{"public, list", anon, "/api/public/stories" + q, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := dataOf(tc.c.do("GET", tc.path, nil), tc.list)
			a := obj(d, "author")
			if a["id"] != ids["ada"] || a["data"].(map[string]any)["title"] != "Ada" {
				t.Errorf("author expanded to %v", a)
			}
			if html, _ := a["data"].(map[string]any)["bioHtml"].(string); !strings.Contains(html, "<em>mathematician</em>") {
				t.Errorf("expanded author's bioHtml = %q", html)
			}
			c := obj(d, "cover")
			if c["id"] != ids["cover"] || c["mimeType"] != "image/png" || c["width"] != 4.0 || c["height"] != 3.0 || c["alt"] != "a cover" ||
				!strings.HasPrefix(c["url"].(string), "/media/"+ids["cover"]+"/") || len(c) != 6 {
				t.Errorf("cover expanded to %v", c)
			}
			html, _ := d["bioHtml"].(string)
			if !strings.Contains(html, "<strong>world</strong>") || strings.Contains(html, "<script") {
				t.Errorf("bioHtml = %q: want rendered and sanitised", html)
			}
			if d["bio"] != "Hello <script>alert(1)</script> **world**" {
				t.Errorf("bio changed: %v", d["bio"])
			}
			if tc.public {
				// The public sees neither a private collection's entries nor drafts:
				// those references keep their ids.
				if d["vault"] != ids["vault"] {
					t.Errorf("public: vault (private collection) = %v, want the bare id", d["vault"])
				}
				if d["editor"] != ids["draft"] {
					t.Errorf("public: editor (a draft) = %v, want the bare id", d["editor"])
				}
				if _, ok := a["status"]; ok {
					t.Errorf("public expansion shows working fields: %v", a)
				}
			} else {
				if obj(d, "vault")["data"].(map[string]any)["title"] != "Gold" {
					t.Errorf("vault = %v", d["vault"])
				}
				if obj(d, "editor")["status"] != "draft" {
					t.Errorf("editor = %v", d["editor"])
				}
			}
		})
	}

	// Without the parameters nothing changes.
	d := dataOf(anon.do("GET", "/api/public/stories/one", nil), false)
	if d["author"] != ids["ada"] || d["bioHtml"] != nil {
		t.Errorf("plain public read changed: %v", d)
	}
	// Expansion is one level: the expanded author's own data is not expanded.
	body := editor.do("GET", "/api/collections/stories/entries/"+ids["story"]+"?expand=author", nil).want(http.StatusOK).Body
	var e struct {
		Data struct {
			Author struct {
				Data map[string]any `json:"data"`
			} `json:"author"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Data.Author.Data["title"] != "Ada" {
		t.Errorf("?expand=author: %s (%v)", body, err)
	}
}

func TestExpandBadInput(t *testing.T) {
	ts, editor, ids := expandSite(t)
	anon := ts.anon()
	for _, tc := range []struct {
		c      *client
		path   string
		status int
		msg    string
	}{
		{editor, "/api/collections/stories/entries?expand=nope", 400, `names no field of collection "stories": "nope"`},
		{editor, "/api/collections/stories/entries?expand=rating", 400, `field "rating" is a integer field`},
		{editor, "/api/collections/stories/entries/" + ids["story"] + "?render=pdf", 400, `must be html`},
		{anon, "/api/public/stories?expand=title", 400, `only reference and media fields expand`},
		{anon, "/api/public/stories?render=html&render=html", 400, `must be html`},
		{anon, "/api/public/stories?expand=" + strings.Repeat("author,", 30) + "x", 400, `names no field`},
		// A private collection is 404 on the public API before its fields are looked at.
		{anon, "/api/public/vaults?expand=nope", 404, `there is no collection "vaults"`},
	} {
		p := tc.c.do("GET", tc.path, nil).problem(tc.status)
		if !strings.Contains(p.Detail, tc.msg) {
			t.Errorf("GET %s: detail %q, want it to contain %q", tc.path, p.Detail, tc.msg)
		}
	}
}
