package admin

import (
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
)

func TestAdminTemplatesParse(t *testing.T) {
	tpls, err := loadAdminTemplates()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"login", "error", "dashboard", "collections", "collection_form", "entries", "editor",
		"revisions", "media", "users", "tokens", "account", "plugins", "plugin", "plugin_settings", "plugin_logs", "plugin_page", "blocks"} {
		if tpls[name] == nil {
			t.Errorf("page template %q is missing", name)
		}
	}
}

func editorCollection() *cms.Collection {
	return &cms.Collection{Name: "posts", Fields: []*cms.Field{
		{Name: "title", Type: cms.TypeString}, {Name: "body", Type: cms.TypeMarkdown},
		{Name: "count", Type: cms.TypeInteger}, {Name: "price", Type: cms.TypeNumber},
		{Name: "on", Type: cms.TypeBoolean}, {Name: "at", Type: cms.TypeDatetime},
		{Name: "tags", Type: cms.TypeMultiselect, Options: []string{"a", "b"}},
		{Name: "meta", Type: cms.TypeJSON}, {Name: "cover", Type: cms.TypeMedia},
	}}
}

func TestParseEditorForm(t *testing.T) {
	col := editorCollection()
	tests := []struct {
		name    string
		form    url.Values
		want    map[string]any
		errPath string
	}{
		{"text trimmed, empty clears", url.Values{"d.title": {"  Hi  "}, "d.cover": {""}},
			map[string]any{"title": "Hi", "body": nil, "count": nil, "price": nil, "at": nil, "meta": nil, "cover": nil}, ""},
		{"markdown keeps its whitespace, CRLF becomes LF", url.Values{"d.body": {"# A\r\n\r\n  code"}},
			map[string]any{"title": nil, "body": "# A\n\n  code", "count": nil, "price": nil, "at": nil, "meta": nil, "cover": nil}, ""},
		{"numbers", url.Values{"d.count": {"3"}, "d.price": {"2.5"}},
			map[string]any{"title": nil, "body": nil, "count": 3.0, "price": 2.5, "at": nil, "meta": nil, "cover": nil}, ""},
		{"checkbox off only when on the form", url.Values{"d.on.present": {"1"}},
			map[string]any{"title": nil, "body": nil, "count": nil, "price": nil, "on": false, "at": nil, "meta": nil, "cover": nil}, ""},
		{"multiselect", url.Values{"d.tags.present": {"1"}, "d.tags": {"a", "b"}},
			map[string]any{"title": nil, "body": nil, "count": nil, "price": nil, "tags": []any{"a", "b"}, "at": nil, "meta": nil, "cover": nil}, ""},
		{"datetime-local is UTC", url.Values{"d.at": {"2026-03-04T05:06"}},
			map[string]any{"title": nil, "body": nil, "count": nil, "price": nil, "at": "2026-03-04T05:06:00Z", "meta": nil, "cover": nil}, ""},
		{"json", url.Values{"d.meta": {`{"a":[1]}`}},
			map[string]any{"title": nil, "body": nil, "count": nil, "price": nil, "at": nil, "meta": map[string]any{"a": []any{1.0}}, "cover": nil}, ""},
		{"not a number", url.Values{"d.count": {"three"}}, nil, "/data/count"},
		{"NaN and Inf are no numbers JSON can hold", url.Values{"d.price": {"NaN"}}, nil, "/data/price"},
		{"infinity", url.Values{"d.count": {"-Inf"}}, nil, "/data/count"},
		{"broken json", url.Values{"d.meta": {`{"a":`}}, nil, "/data/meta"},
		{"bad date", url.Values{"d.at": {"yesterday"}}, nil, "/data/at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v cms.ValidationError
			data, _ := parseEditorForm(col, tt.form, &v)
			if tt.errPath != "" {
				if len(v.Errors) != 1 || v.Errors[0].Path != tt.errPath {
					t.Fatalf("errors = %+v, want one at %s", v.Errors, tt.errPath)
				}
				return
			}
			if err := v.Err(); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(data, tt.want) {
				t.Fatalf("data = %#v\nwant   %#v", data, tt.want)
			}
		})
	}
}

func TestParseFieldRows(t *testing.T) {
	form := url.Values{
		"field_rows":          {"5"},
		"fields.0.name":       {"title"},
		"fields.0.type":       {"string"},
		"fields.0.required":   {"1"},
		"fields.0.max":        {"80"},
		"fields.1.name":       {"old"},
		"fields.1.type":       {"string"},
		"fields.1.remove":     {"1"},
		"fields.2.name":       {""}, // blank row
		"fields.3.name":       {"tags"},
		"fields.3.type":       {"multiselect"},
		"fields.3.options":    {"news\nsport, arts\n"},
		"fields.3.default":    {"news, arts"},
		"fields.4.name":       {"n"},
		"fields.4.type":       {"number"},
		"fields.4.min":        {"low"},
		"fields.9.name":       {"beyond the row count"},
		"fields.4.collection": {""},
	}
	var v cms.ValidationError
	rows, fields, rowOf := parseFieldRows(form, &v)
	if len(fields) != 3 || fields[0].Name != "title" || fields[1].Name != "tags" || fields[2].Name != "n" {
		t.Fatalf("fields = %+v", fields)
	}
	if !fields[0].Required || fields[0].Max == nil || *fields[0].Max != 80 {
		t.Errorf("title = %+v", fields[0])
	}
	if !reflect.DeepEqual(fields[1].Options, []string{"news", "sport", "arts"}) || !reflect.DeepEqual(fields[1].Default, []any{"news", "arts"}) {
		t.Errorf("tags = %+v", fields[1])
	}
	if len(v.Errors) != 1 || v.Errors[0].Path != "/fields/2/min" {
		t.Errorf("errors = %+v, want one at /fields/2/min", v.Errors)
	}
	// The removed row is gone; the blank one stays for the re-rendered form.
	if len(rows) != 4 || !reflect.DeepEqual(rowOf, []int{0, 2, 3}) {
		t.Errorf("rows = %d, rowOf = %v", len(rows), rowOf)
	}
	// Errors from the content service land in the row that holds the field.
	top := spreadErrors(&cms.ValidationError{Errors: []cms.FieldError{
		{Path: "/fields/1/options", Message: "bad"}, {Path: "/label", Message: "is required"},
	}}, rows, rowOf)
	if got := rows[2].Errs["options"]; len(got) != 1 || got[0] != "bad" {
		t.Errorf("row errors = %+v", rows[2].Errs)
	}
	if len(top["/label"]) != 1 {
		t.Errorf("top errors = %+v", top)
	}
}

func TestParseDefault(t *testing.T) {
	tests := []struct {
		typ     cms.FieldType
		in      string
		want    any
		wantErr bool
	}{
		{cms.TypeString, "x", "x", false},
		{cms.TypeInteger, "7", 7.0, false},
		{cms.TypeNumber, "seven", nil, true},
		{cms.TypeBoolean, "true", true, false},
		{cms.TypeBoolean, "yes please", nil, true},
		{cms.TypeJSON, `[1]`, []any{1.0}, false},
		{cms.TypeJSON, `[`, nil, true},
	}
	for _, tt := range tests {
		got, err := parseDefault(tt.typ, tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && !reflect.DeepEqual(got, tt.want)) {
			t.Errorf("parseDefault(%s, %q) = %v, %v", tt.typ, tt.in, got, err)
		}
	}
}

func TestSafeNext(t *testing.T) {
	tests := map[string]string{
		"/admin/media":         "/admin/media",
		"/admin/x?y=1":         "/admin/x?y=1",
		"https://evil.example": "/admin/",
		"//evil.example/admin": "/admin/",
		"/api/users":           "/admin/",
		"/admin\\@evil":        "/admin/",
		"":                     "/admin/",
	}
	for in, want := range tests {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSameOrigin(t *testing.T) {
	tests := []struct {
		origin string
		want   bool
	}{
		{"", true},
		{"http://site.example", true},
		{"http://evil.example", false},
		{"null", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "http://site.example/admin/login", nil)
		if tt.origin != "" {
			r.Header.Set("Origin", tt.origin)
		}
		if got := sameOrigin(r); got != tt.want {
			t.Errorf("sameOrigin(Origin %q) = %v", tt.origin, got)
		}
	}
}

func TestFormValue(t *testing.T) {
	tests := []struct {
		typ  cms.FieldType
		in   any
		want string
	}{
		{cms.TypeDatetime, "2026-01-02T03:04:05.000Z", "2026-01-02T03:04:05"},
		{cms.TypeInteger, 3.0, "3"},
		{cms.TypeNumber, 2.5, "2.5"},
		{cms.TypeJSON, map[string]any{"a": 1.0}, "{\n  \"a\": 1\n}"},
		{cms.TypeString, nil, ""},
	}
	for _, tt := range tests {
		if got := formValue(tt.typ, tt.in); got != tt.want {
			t.Errorf("formValue(%s, %v) = %q, want %q", tt.typ, tt.in, got, tt.want)
		}
	}
}

func TestHumanSize(t *testing.T) {
	tests := map[int64]string{0: "0 bytes", 1023: "1023 bytes", 1024: "1.0 KiB", 1536: "1.5 KiB", 100 << 20: "100.0 MiB", 3 << 30: "3.0 GiB"}
	for in, want := range tests {
		if got := humanSize(in); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", in, got, want)
		}
	}
}
