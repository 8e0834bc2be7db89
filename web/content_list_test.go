package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
)

func TestListFilterSortSearchPaginate(t *testing.T) {
	ts := newTestSite(t)
	ed := ts.as(cms.RoleEditor)
	ts.as(cms.RoleAdmin).mustCreateCollection(postsCollection)
	cats := []string{"news", "howto", "opinion"}
	for i := range 12 {
		data := map[string]any{"title": fmt.Sprintf("Post %02d", i), "rating": i % 6, "category": cats[i%3],
			"body": "plain words"}
		if i%4 == 0 {
			data["tags"] = []string{"go", "sqlite"}
			data["body"] = "all about zebras and their stripes"
		}
		e := ed.createEntry("posts", data)
		if i%2 == 0 {
			ed.action("posts", e.ID, "publish", nil).want(http.StatusOK)
		}
	}
	q := func(params ...string) entryList {
		v := url.Values{}
		for i := 0; i < len(params); i += 2 {
			v.Set(params[i], params[i+1])
		}
		return ed.list("/api/collections/posts/entries?" + v.Encode())
	}
	titles := func(l entryList) []string {
		var out []string
		for _, e := range l.Items {
			out = append(out, e.Data["title"].(string))
		}
		return out
	}

	if got := titles(q()); len(got) != 12 || got[0] != "Post 11" {
		t.Errorf("default order (-createdAt) = %v", got)
	}
	if got := titles(q("sort", "title", "limit", "3")); !slices.Equal(got, []string{"Post 00", "Post 01", "Post 02"}) {
		t.Errorf("sort=title = %v", got)
	}
	if got := titles(q("filter[category]", "howto")); len(got) != 4 {
		t.Errorf("category=howto = %v", got)
	}
	if got := titles(q("filter[rating][gte]", "4", "sort", "-rating,title")); !slices.Equal(got, []string{"Post 05", "Post 11", "Post 04", "Post 10"}) {
		t.Errorf("rating>=4 sorted = %v", got)
	}
	if got := titles(q("filter[rating][in]", "0,1", "filter[category][ne]", "news")); !slices.Equal(got, []string{"Post 07", "Post 01"}) {
		t.Errorf("rating in 0,1 and category != news = %v", got)
	}
	if got := titles(q("filter[title][contains]", "ST 1")); len(got) != 2 {
		t.Errorf("title contains 'ST 1' = %v", got)
	}
	if got := titles(q("filter[tags][contains]", "sqlite")); len(got) != 3 {
		t.Errorf("tags contains sqlite = %v", got)
	}
	if got := titles(q("status", "published")); len(got) != 6 {
		t.Errorf("status=published = %v", got)
	}
	if got := titles(q("q", "zebra")); len(got) != 3 {
		t.Errorf("q=zebra (prefix) = %v", got)
	}
	if got := titles(q("q", "zebras stripes", "filter[rating][lt]", "3")); !slices.Equal(got, []string{"Post 08", "Post 00"}) {
		t.Errorf("q + filter = %v", got)
	}
	if got := titles(q("q", `"unbalanced AND (`)); len(got) != 0 {
		t.Errorf("FTS syntax in q must be plain words: %v", got)
	}

	// Cursor pagination over a field sort with missing values (nulls) and ties.
	for _, sort := range []string{"category,title", "-rating", "tags", "-publishedAt", "featured,-createdAt"} {
		var all []string
		cursor := ""
		for pages := 0; ; pages++ {
			params := []string{"limit", "5", "sort", sort}
			if cursor != "" {
				params = append(params, "cursor", cursor)
			}
			if sort == "tags" {
				ed.do("GET", "/api/collections/posts/entries?sort=tags", nil).problem(http.StatusBadRequest)
				break
			}
			l := q(params...)
			all = append(all, titles(l)...)
			if l.NextCursor == "" {
				break
			}
			cursor = l.NextCursor
			if pages > 5 {
				t.Fatalf("sort %s: too many pages", sort)
			}
		}
		if sort == "tags" {
			continue
		}
		seen := map[string]bool{}
		for _, x := range all {
			seen[x] = true
		}
		if len(all) != 12 || len(seen) != 12 {
			t.Errorf("sort %s: paged through %d items (%d distinct): %v", sort, len(all), len(seen), all)
		}
	}
	// A cursor is tied to its sort.
	l := q("limit", "2", "sort", "title")
	ed.do("GET", "/api/collections/posts/entries?sort=-title&cursor="+l.NextCursor, nil).problem(http.StatusBadRequest)

	// Public list: published only, filters apply to published data.
	var pub struct {
		Items []struct {
			Slug string         `json:"slug"`
			Data map[string]any `json:"data"`
		} `json:"items"`
		NextCursor string `json:"nextCursor"`
	}
	ts.anon().do("GET", "/api/public/posts?limit=4", nil).want(http.StatusOK).decode(&pub)
	if len(pub.Items) != 4 || pub.NextCursor == "" {
		t.Fatalf("public page 1 = %+v", pub)
	}
	cursor := pub.NextCursor
	pub.NextCursor = ""
	ts.anon().do("GET", "/api/public/posts?limit=4&cursor="+cursor, nil).want(http.StatusOK).decode(&pub)
	if len(pub.Items) != 2 || pub.NextCursor != "" {
		t.Fatalf("public page 2 = %+v", pub)
	}
	ts.anon().do("GET", "/api/public/posts?"+url.Values{"filter[category]": {"news"}, "q": {"zebra"}}.Encode(), nil).want(http.StatusOK).decode(&pub)
	if len(pub.Items) != 1 || pub.Items[0].Slug != "post-00" {
		t.Fatalf("public filtered = %+v", pub)
	}
	ts.anon().do("GET", "/api/public/posts?status=draft", nil).problem(http.StatusBadRequest)
	ts.anon().do("GET", "/api/public/nope", nil).problem(http.StatusNotFound)
}
