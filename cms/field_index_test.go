package cms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// fieldIndexNames lists the per-field indexes (and, on PostgreSQL, the
// statistics objects kept beside them) the database holds for collection.
func fieldIndexNames(t *testing.T, c *Content, db *storage.DB, collection string) []string {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'ix\_%' ESCAPE '\'`
	if c.pg() {
		q = `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'entries' AND indexname LIKE 'ix\_%' ESCAPE '\'
			UNION ALL SELECT stxname FROM pg_statistic_ext WHERE stxnamespace = current_schema()::regnamespace AND stxname LIKE 'ix\_%' ESCAPE '\'`
	}
	rows, err := db.Read().Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(n, fmt.Sprintf("_%d_%s_", len(collection), collection)) {
			out = append(out, n)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// wantFieldIndexes is what syncIndexes makes for the named fields.
func wantFieldIndexes(c *Content, collection string, fields ...string) []string {
	var out []string
	for _, f := range fields {
		if c.pg() {
			for _, k := range []string{"d", publicIndexKind, "sd", "s" + publicIndexKind} {
				out = append(out, pgIndexName(k, collection, f))
			}
			continue
		}
		out = append(out, indexName("d", collection, f), indexName(publicIndexKind, collection, f))
	}
	slices.Sort(out)
	return out
}

func TestFieldIndexOptionValidation(t *testing.T) {
	for _, tt := range []struct {
		name, fields, path, detail string
	}{
		{"index on text", `[{"name":"body","type":"text","index":true}]`, "/fields/0/index", `field "body": text fields cannot be indexed`},
		{"index on json", `[{"name":"a","type":"string"},{"name":"meta","type":"json","index":true}]`, "/fields/1/index", `field "meta": json fields cannot be indexed`},
		{"index on multiselect", `[{"name":"tags","type":"multiselect","options":["x"],"index":true}]`, "/fields/0/index", `field "tags": multiselect fields cannot be indexed`},
		{"unique without index", `[{"name":"code","type":"string","unique":true,"index":false}]`, "/fields/0/index", `field "code": a unique field keeps its index`},
		{"off on a scalar", `[{"name":"n","type":"integer","index":false}]`, "", ""},
		{"on on a scalar", `[{"name":"n","type":"integer","index":true}]`, "", ""},
		{"off on text (nothing to turn off)", `[{"name":"body","type":"markdown","index":false}]`, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var fields []*Field
			if err := json.Unmarshal([]byte(tt.fields), &fields); err != nil {
				t.Fatal(err)
			}
			var v ValidationError
			validateFields(&v, fields)
			if tt.path == "" {
				if len(v.Errors) > 0 {
					t.Fatalf("refused: %v", v.Errors)
				}
				return
			}
			if len(v.Errors) != 1 || v.Errors[0].Path != tt.path || !strings.Contains(v.Errors[0].Message, tt.detail) {
				t.Fatalf("errors %v, want one at %s saying %q", v.Errors, tt.path, tt.detail)
			}
		})
	}
}

// TestFieldIndexOption turns fields' indexes off and on through collection
// changes, checks the database holds exactly the indexes the definition
// asks for, and that every list (admin and public, filters, sorts, cursor
// pages) returns the same entries in the same order whichever indexes
// exist: an unindexed field is read by scanning.
func TestFieldIndexOption(t *testing.T) {
	ctx := context.Background()
	tick := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c, db := newContentEnv(t, WithClock(func() time.Time { tick = tick.Add(time.Second); return tick }))
	off := func() *bool { return new(bool) }
	fields := func(n, cat, flag, when *bool) []*Field {
		return []*Field{
			{Name: "title", Type: TypeString, Required: true},
			{Name: "slug", Type: TypeSlug, From: "title"},
			{Name: "n", Type: TypeInteger, Index: n},
			{Name: "cat", Type: TypeSelect, Options: []string{"a", "b", "c"}, Index: cat},
			{Name: "flag", Type: TypeBoolean, Index: flag},
			{Name: "when", Type: TypeDatetime, Index: when},
			{Name: "body", Type: TypeMarkdown},
		}
	}
	yes := true
	col := mustCollection(t, c, CollectionInput{Name: "posts", Label: "Posts", Fields: fields(off(), nil, &yes, off()), Options: &OptionsInput{Public: &yes}})
	if got, want := fieldIndexNames(t, c, db, "posts"), wantFieldIndexes(c, "posts", "title", "slug", "cat", "flag"); !slices.Equal(got, want) {
		t.Fatalf("indexes after create %v, want %v", got, want)
	}
	// The stored definition keeps the option as given; unset stays unset.
	got, err := c.Collection(ctx, "posts")
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range got.Fields {
		if w := col.Fields[i].Index; (f.Index == nil) != (w == nil) || (w != nil && *f.Index != *w) {
			t.Fatalf("field %s: index %v, want %v", f.Name, f.Index, w)
		}
	}
	b, _ := json.Marshal(got.Fields[2])
	if !strings.Contains(string(b), `"index":false`) {
		t.Fatalf("field n encodes as %s", b)
	}
	if b, _ := json.Marshal(got.Fields[0]); strings.Contains(string(b), `"index"`) {
		t.Fatalf("field title encodes as %s", b)
	}

	// Entries: working and public copies that differ (drafts), missing
	// values, repeats, a trashed one.
	for i := range 40 {
		data := map[string]any{"title": fmt.Sprintf("Post %02d %s", i%13, strings.Repeat("e", i%3)), "body": "text"}
		if i%5 != 0 {
			data["n"] = json.Number(fmt.Sprint(i % 7))
		}
		if i%4 != 0 {
			data["cat"] = []string{"a", "b", "c"}[i%3]
		}
		if i%3 != 0 {
			data["flag"] = i%2 == 0
		}
		if i%6 != 0 {
			data["when"] = tick.Add(time.Duration(i%9) * time.Hour).Format(DatetimeLayout)
		}
		e, err := c.CreateEntry(ctx, nil, "posts", data)
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			continue
		}
		if e, err = c.Publish(ctx, nil, "posts", e.ID, nil, e.Version); err != nil {
			t.Fatal(err)
		}
		switch i % 4 {
		case 1: // a draft over the published copy
			data["n"] = json.Number(fmt.Sprint((i + 3) % 7))
			data["cat"] = "c"
			if _, err := c.UpdateEntry(ctx, nil, "posts", e.ID, data, e.Version); err != nil {
				t.Fatal(err)
			}
		case 2:
			if i%8 == 2 {
				if _, err := c.Trash(ctx, nil, "posts", e.ID, e.Version); err != nil {
					t.Fatal(err)
				}
			}
		}
	}

	queries := []string{"", "sort=n", "sort=-n", "sort=title", "sort=-when,n", "sort=flag", "sort=cat,-n",
		"filter[n]=3", "filter[n][in]=1,2,5", "filter[n][gt]=2&sort=-n", "filter[n][lte]=4&sort=when",
		"filter[cat]=a", "filter[cat][in]=a,c&sort=n", "filter[cat][ne]=b&sort=-cat", "filter[flag]=true&sort=n",
		"filter[flag][ne]=false", "filter[when][gte]=" + tick.Add(3*time.Hour).Format(DatetimeLayout) + "&sort=when",
		"filter[title][contains]=ee&sort=-title", "filter[n]=2&filter[cat]=b", "q=post&sort=n"}
	// every lists all pages (limit 3, by cursor) of each query, admin
	// (trashed included in one) and public, as ids in order.
	every := func() map[string][]string {
		out := map[string][]string{}
		for _, qs := range queries {
			for _, public := range []bool{false, true} {
				for _, status := range []string{"", "&status=trashed,draft,published"} {
					if public && status != "" {
						continue
					}
					key := fmt.Sprintf("public=%v %s%s", public, qs, status)
					cursor := ""
					for page := 0; ; page++ {
						if page > 50 {
							t.Fatalf("%s: more pages than entries", key)
						}
						q := mustQuery(t, strings.TrimPrefix(qs+status+"&limit=3", "&"))
						q.Cursor = cursor
						if public {
							p, err := c.PublicList(ctx, "posts", q)
							if err != nil {
								t.Fatalf("%s: %v", key, err)
							}
							for _, e := range p.Items {
								out[key] = append(out[key], e.ID+fmt.Sprint(e.Data["n"], e.Data["cat"]))
							}
							cursor = p.NextCursor
						} else {
							p, err := c.ListEntries(ctx, nil, "posts", q)
							if err != nil {
								t.Fatalf("%s: %v", key, err)
							}
							for _, e := range p.Items {
								out[key] = append(out[key], e.ID+fmt.Sprint(e.Data["n"], e.Data["cat"]))
							}
							cursor = p.NextCursor
						}
						if cursor == "" {
							break
						}
					}
				}
			}
		}
		return out
	}
	before := every()
	if len(before["public=false "]) != 36 || len(before["public=true filter[n][in]=1,2,5"]) == 0 {
		t.Fatalf("the fixture lists %d entries, %d public with n in 1,2,5", len(before["public=false "]), len(before["public=true filter[n][in]=1,2,5"]))
	}

	for _, step := range []struct {
		name    string
		fields  []*Field
		indexed []string
	}{
		{"all off", fields(off(), off(), off(), off()), []string{"title", "slug"}},
		{"all on", fields(nil, &yes, nil, nil), []string{"title", "slug", "n", "cat", "flag", "when"}},
		{"some off", fields(nil, off(), nil, off()), []string{"title", "slug", "n", "flag"}},
	} {
		if _, err := c.UpdateCollection(ctx, "posts", CollectionPatch{Fields: step.fields}); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got, want := fieldIndexNames(t, c, db, "posts"), wantFieldIndexes(c, "posts", step.indexed...); !slices.Equal(got, want) {
			t.Fatalf("%s: indexes %v, want %v", step.name, got, want)
		}
		after := every()
		for k, want := range before {
			if !slices.Equal(after[k], want) {
				t.Errorf("%s: %s gave\n%v, with the first indexes\n%v", step.name, k, after[k], want)
			}
		}
	}

	// A unique field keeps its index; the refusal names the field.
	_, err = c.UpdateCollection(ctx, "posts", CollectionPatch{Fields: append(fields(nil, nil, nil, nil),
		&Field{Name: "code", Type: TypeString, Unique: true, Index: off()})})
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) != 1 || ve.Errors[0].Path != "/fields/7/index" || !strings.Contains(ve.Errors[0].Message, `"code"`) {
		t.Fatalf("unique without index: %v", err)
	}
	// Removing a field drops its indexes whatever its option said.
	if _, err := c.UpdateCollection(ctx, "posts", CollectionPatch{Fields: fields(nil, nil, nil, nil)[:4]}); err != nil {
		t.Fatal(err)
	}
	if got, want := fieldIndexNames(t, c, db, "posts"), wantFieldIndexes(c, "posts", "title", "slug", "n", "cat"); !slices.Equal(got, want) {
		t.Fatalf("after removing fields: indexes %v, want %v", got, want)
	}
}
