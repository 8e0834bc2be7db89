package cms

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestParseListQuery(t *testing.T) {
	tests := []struct {
		query string
		want  ListQuery
		paths []string
	}{
		{"", ListQuery{Limit: DefaultLimit}, nil},
		{"limit=5&sort=-createdAt,title&status=draft,published&q=hello",
			ListQuery{Limit: 5, Sort: []SortKey{{"createdAt", true}, {"title", false}}, Status: []Status{StatusDraft, StatusPublished}, Q: "hello"}, nil},
		{"filter[title][contains]=x&filter[rating]=3",
			ListQuery{Limit: DefaultLimit, Filters: []Filter{{"rating", "eq", "3", "filter[rating]"}, {"title", "contains", "x", "filter[title][contains]"}}}, nil},
		{"limit=0", ListQuery{}, []string{"/query/limit"}},
		{"limit=abc", ListQuery{}, []string{"/query/limit"}},
		{"sort=title%3BDROP TABLE entries", ListQuery{}, []string{"/query/sort"}},
		{"sort=' OR 1=1", ListQuery{}, []string{"/query/sort"}},
		{"sort=a,a", ListQuery{}, []string{"/query/sort"}},
		{"status=gone", ListQuery{}, []string{"/query/status"}},
		{"filter[a][like]=x", ListQuery{}, []string{"/query/filter[a][like]"}},
		{"filter[a b]=x", ListQuery{}, []string{"/query/filter[a b]"}},
		{"filter=x", ListQuery{}, []string{"/query/filter"}},
		{"limit=1&limit=2", ListQuery{}, []string{"/query/limit"}},
		{"page=2", ListQuery{}, []string{"/query/page"}},
		{"q=" + strings.Repeat("x", maxQLen+1), ListQuery{}, []string{"/query/q"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			vals, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseListQuery(vals)
			if tt.paths != nil {
				ve, ok := err.(*ValidationError)
				if !ok {
					t.Fatalf("err = %v, want a ValidationError", err)
				}
				var paths []string
				for _, e := range ve.Errors {
					paths = append(paths, e.Path)
				}
				if !reflect.DeepEqual(paths, tt.paths) {
					t.Fatalf("paths %v, want %v", paths, tt.paths)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFTSQueryQuotesEverything(t *testing.T) {
	for in, want := range map[string]string{
		"hello world":          `"hello" "world"*`,
		`"x" OR y NEAR(z)`:     `"x" "OR" "y" "NEAR" "z"*`,
		"col:val -neg ^start*": `"col" "val" "neg" "start"*`,
		"  ":                   ``,
	} {
		if got := ftsQuery(in); got != want {
			t.Errorf("ftsQuery(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestBuildListRejectsUnknownAndMistypedFilters(t *testing.T) {
	col := &Collection{Name: "posts", Fields: []*Field{
		{Name: "title", Type: TypeString}, {Name: "n", Type: TypeInteger}, {Name: "flag", Type: TypeBoolean},
		{Name: "meta", Type: TypeJSON}, {Name: "tags", Type: TypeMultiselect, Options: []string{"a"}},
	}}
	tests := []struct {
		filter Filter
		ok     bool
	}{
		{Filter{"title", "contains", "x", "p"}, true},
		{Filter{"n", "gte", "3", "p"}, true},
		{Filter{"n", "gte", "three", "p"}, false},
		{Filter{"n", "contains", "3", "p"}, false},
		{Filter{"flag", "eq", "true", "p"}, true},
		{Filter{"flag", "eq", "yes", "p"}, false},
		{Filter{"flag", "lt", "true", "p"}, false},
		{Filter{"meta", "eq", "x", "p"}, false},
		{Filter{"tags", "in", "a,b", "p"}, true},
		{Filter{"tags", "gt", "a", "p"}, false},
		{Filter{"createdAt", "gt", "2026-01-01T00:00:00Z", "p"}, true},
		{Filter{"createdAt", "gt", "yesterday", "p"}, false},
		{Filter{"missing", "eq", "x", "p"}, false},
	}
	for _, tt := range tests {
		_, err := buildList(col, ListQuery{Limit: 10, Filters: []Filter{tt.filter}}, false)
		if (err == nil) != tt.ok {
			t.Errorf("%+v: err = %v, want ok=%v", tt.filter, err, tt.ok)
		}
	}
	if _, err := buildList(col, ListQuery{Limit: 10, Sort: []SortKey{{"meta", false}}}, false); err == nil {
		t.Error("sorting by a json field was accepted")
	}
	if _, err := buildList(col, ListQuery{Limit: 10, Cursor: "bm9wZQ"}, false); err == nil {
		t.Error("a forged cursor was accepted")
	}
}
