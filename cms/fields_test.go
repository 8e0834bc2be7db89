package cms

import (
	"encoding/json"
	"strings"
	"testing"
)

func fptr(f float64) *float64 { return &f }

func TestFieldNormalize(t *testing.T) {
	tests := []struct {
		name    string
		field   Field
		in      any
		want    any
		wantErr string
	}{
		{"string ok", Field{Type: TypeString}, "hi", "hi", ""},
		{"string wrong type", Field{Type: TypeString}, json.Number("3"), nil, "must be a string, not a number"},
		{"string newline", Field{Type: TypeString}, "a\nb", nil, "single line"},
		{"string max", Field{Type: TypeString, Max: fptr(3)}, "abcd", nil, "at most 3 characters"},
		{"string min counts runes", Field{Type: TypeString, Min: fptr(2)}, "é", nil, "at least 2"},
		{"text multi-line", Field{Type: TypeText}, "a\nb", "a\nb", ""},
		{"integer", Field{Type: TypeInteger}, json.Number("42"), int64(42), ""},
		{"integer fraction", Field{Type: TypeInteger}, json.Number("4.5"), nil, "whole number"},
		{"integer too big", Field{Type: TypeInteger}, json.Number("9007199254740993"), nil, "whole number"},
		{"integer from float64", Field{Type: TypeInteger}, float64(3), int64(3), ""},
		{"number bounds", Field{Type: TypeNumber, Min: fptr(0), Max: fptr(1)}, json.Number("1.5"), nil, "must be ≤ 1"},
		{"number string", Field{Type: TypeNumber}, "1", nil, "must be a number, not a string"},
		{"boolean", Field{Type: TypeBoolean}, true, true, ""},
		{"boolean string", Field{Type: TypeBoolean}, "true", nil, "true or false"},
		{"datetime normalised", Field{Type: TypeDatetime}, "2026-01-02T03:04:05+02:00", "2026-01-02T01:04:05.000Z", ""},
		{"datetime bad", Field{Type: TypeDatetime}, "yesterday", nil, "RFC 3339"},
		{"select", Field{Type: TypeSelect, Options: []string{"a", "b"}}, "b", "b", ""},
		{"select other", Field{Type: TypeSelect, Options: []string{"a", "b"}}, "c", nil, `one of "a", "b"`},
		{"multiselect", Field{Type: TypeMultiselect, Options: []string{"a", "b"}}, []any{"a", "b"}, []any{"a", "b"}, ""},
		{"multiselect dup", Field{Type: TypeMultiselect, Options: []string{"a", "b"}}, []any{"a", "a"}, nil, "repeats"},
		{"multiselect count", Field{Type: TypeMultiselect, Options: []string{"a", "b"}, Max: fptr(1)}, []any{"a", "b"}, nil, "at most 1 items"},
		{"slug ok", Field{Type: TypeSlug}, "a-b-1", "a-b-1", ""},
		{"slug bad", Field{Type: TypeSlug}, "A B", nil, "lowercase"},
		{"pattern", Field{Type: TypeString, Pattern: `^[A-Z]{3}$`}, "abc", nil, "must match the pattern"},
		{"reference", Field{Type: TypeReference, Collection: "x"}, "0190a1b2-0000-7000-8000-000000000000", "0190a1b2-0000-7000-8000-000000000000", ""},
		{"reference bad", Field{Type: TypeReference, Collection: "x"}, "1; DROP", nil, "entry id"},
		{"media bad", Field{Type: TypeMedia}, 5, nil, "media id"},
		{"json anything", Field{Type: TypeJSON}, map[string]any{"a": []any{1.0}}, map[string]any{"a": []any{1.0}}, ""},
		{"json too big", Field{Type: TypeJSON}, strings.Repeat("x", maxJSONBytes), nil, "at most"},
		{"json at the depth bound", Field{Type: TypeJSON}, nested(MaxJSONFieldDepth), nested(MaxJSONFieldDepth), ""},
		{"json too deep", Field{Type: TypeJSON}, nested(MaxJSONFieldDepth + 1), nil, "nested at most 48 levels"},
		{"json deep objects", Field{Type: TypeJSON}, map[string]any{"a": nested(MaxJSONFieldDepth)}, nil, "nested at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.field
			f.Name = "f"
			var v ValidationError
			validateFields(&v, []*Field{&f}) // compiles the pattern
			if err := v.Err(); err != nil {
				t.Fatalf("definition invalid: %v", err)
			}
			got, probs := f.normalize(tt.in)
			if tt.wantErr != "" {
				if len(probs) == 0 || !strings.Contains(strings.Join(probs, "; "), tt.wantErr) {
					t.Fatalf("problems %q, want one containing %q", probs, tt.wantErr)
				}
				return
			}
			if len(probs) > 0 {
				t.Fatalf("unexpected problems %q", probs)
			}
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(tt.want)
			if string(gj) != string(wj) {
				t.Fatalf("got %s, want %s", gj, wj)
			}
		})
	}
}

func TestValidateFields(t *testing.T) {
	tests := []struct {
		name   string
		fields string
		paths  []string
	}{
		{"fine", `[{"name":"title","type":"string","required":true},{"name":"slug","type":"slug","from":"title"}]`, nil},
		{"bad name and type", `[{"name":"Title","type":"str"}]`, []string{"/fields/0/name", "/fields/0/type"}},
		{"duplicate", `[{"name":"a","type":"string"},{"name":"a","type":"text"}]`, []string{"/fields/1/name"}},
		{"two slugs", `[{"name":"a","type":"slug"},{"name":"b","type":"slug"}]`, []string{"/fields/1/type"}},
		{"from non-string", `[{"name":"n","type":"number"},{"name":"s","type":"slug","from":"n"}]`, []string{"/fields/1/from"}},
		{"options on string", `[{"name":"a","type":"string","options":["x"]}]`, []string{"/fields/0/options"}},
		{"duplicate option", `[{"name":"a","type":"select","options":["x","x"]}]`, []string{"/fields/0/options/1"}},
		{"unique boolean", `[{"name":"a","type":"boolean","unique":true}]`, []string{"/fields/0/unique"}},
		{"min > max", `[{"name":"a","type":"integer","min":3,"max":1}]`, []string{"/fields/0/max"}},
		{"fractional length", `[{"name":"a","type":"string","max":1.5}]`, []string{"/fields/0/max"}},
		{"min on boolean", `[{"name":"a","type":"boolean","min":1}]`, []string{"/fields/0/min"}},
		{"bad pattern", `[{"name":"a","type":"string","pattern":"(("}]`, []string{"/fields/0/pattern"}},
		{"pattern on number", `[{"name":"a","type":"number","pattern":"x"}]`, []string{"/fields/0/pattern"}},
		{"reference without target", `[{"name":"a","type":"reference"}]`, []string{"/fields/0/collection"}},
		{"bad default", `[{"name":"a","type":"select","options":["x"],"default":"y"}]`, []string{"/fields/0/default"}},
		{"slug default", `[{"name":"a","type":"slug","default":"x"}]`, []string{"/fields/0/default"}},
		{"from on string", `[{"name":"a","type":"string","from":"b"}]`, []string{"/fields/0/from"}},
		{"index on text", `[{"name":"a","type":"text","index":true}]`, []string{"/fields/0/index"}},
		{"unique unindexed", `[{"name":"a","type":"string","unique":true,"index":false}]`, []string{"/fields/0/index"}},
		{"index off", `[{"name":"a","type":"datetime","index":false}]`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fields []*Field
			if err := json.Unmarshal([]byte(tt.fields), &fields); err != nil {
				t.Fatal(err)
			}
			var v ValidationError
			validateFields(&v, fields)
			var got []string
			for _, e := range v.Errors {
				got = append(got, e.Path)
			}
			if strings.Join(got, ",") != strings.Join(tt.paths, ",") {
				t.Fatalf("paths %v, want %v (%v)", got, tt.paths, v.Errors)
			}
		})
	}
}

func TestSlugify(t *testing.T) {
	for in, want := range map[string]string{
		"Hello, World!":         "hello-world",
		"Crème brûlée":          "creme-brulee",
		"  --a--b--  ":          "a-b",
		"日本語":                   "",
		"Go 1.26 is out":        "go-1-26-is-out",
		strings.Repeat("ab", 9): "abababababababab", // cut at 16
	} {
		if got := Slugify(in, 16); got != want {
			t.Errorf("Slugify(%q) = %q, want %q", in, got, want)
		}
	}
}

// nested is n levels of arrays, innermost empty.
func nested(n int) any {
	var v any = []any{}
	for i := 1; i < n; i++ {
		v = []any{v}
	}
	return v
}
