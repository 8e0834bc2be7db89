package web

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
)

type schemaProbe struct {
	Plain     string         `json:"plain"`
	Omitted   string         `json:"omitted,omitempty"`
	Zero      time.Time      `json:"zero,omitzero"`
	Ptr       *int           `json:"ptr"`
	PtrOmit   *int           `json:"ptrOmit,omitempty"`
	List      []string       `json:"list"`
	ListOmit  []string       `json:"listOmit,omitempty"`
	Map       map[string]any `json:"map"`
	Role      cms.Role       `json:"role"`
	Hidden    string         `json:"-"`
	Raw       json.RawMessage
	unexposed int
	schemaEmbedded
}

type schemaEmbedded struct {
	Inner bool `json:"inner"`
}

// TestSchemaReflection checks that schemas say what encoding/json writes.
func TestSchemaReflection(t *testing.T) {
	_ = schemaProbe{}.unexposed
	for _, input := range []bool{false, true} {
		g := newSchemaGen()
		g.input = input
		ref := g.of(schemaProbe{})
		name := "SchemaProbe"
		if input {
			name += "Input"
		}
		if ref["$ref"] != "#/components/schemas/"+name {
			t.Fatalf("input=%v: ref = %v", input, ref)
		}
		obj := g.defs[name].(map[string]any)
		got, _ := json.Marshal(obj["properties"])
		var p map[string]any
		_ = json.Unmarshal(got, &p)
		tests := []struct{ prop, want string }{
			{"plain", `{"type":"string"}`},
			{"omitted", `{"type":"string"}`},
			{"zero", `{"format":"date-time","type":"string"}`},
			{"ptr", `{"type":["integer","null"]}`},
			{"ptrOmit", `{"type":"integer"}`},
			{"list", `{"items":{"type":"string"},"type":["array","null"]}`},
			{"listOmit", `{"items":{"type":"string"},"type":"array"}`},
			{"map", `{"additionalProperties":{},"type":["object","null"]}`},
			{"role", `{"enum":["admin","editor","author"],"type":"string"}`},
			{"Raw", `{}`},
			{"inner", `{"type":"boolean"}`},
		}
		for _, tt := range tests {
			b, _ := json.Marshal(p[tt.prop])
			if string(b) != tt.want {
				t.Errorf("input=%v: %s = %s, want %s", input, tt.prop, b, tt.want)
			}
		}
		for _, absent := range []string{"Hidden", "-", "unexposed", "schemaEmbedded"} {
			if _, ok := p[absent]; ok {
				t.Errorf("input=%v: %s should not be a property", input, absent)
			}
		}
		req, _ := json.Marshal(obj["required"])
		want := `["plain","ptr","list","map","role","Raw","inner"]`
		if input {
			want = "null"
		}
		if string(req) != want {
			t.Errorf("input=%v: required = %s, want %s", input, req, want)
		}
		if obj["additionalProperties"] != false {
			t.Errorf("input=%v: additionalProperties = %v, want false", input, obj["additionalProperties"])
		}
	}
}

// TestFieldSchemaBounds checks the constraint mapping of each field type.
func TestFieldSchemaBounds(t *testing.T) {
	two, nine := 2.0, 9.0
	tests := []struct {
		f    cms.Field
		want string
	}{
		{cms.Field{Type: cms.TypeString, Min: &two, Max: &nine, Pattern: "^a"}, `{"maxLength":9,"minLength":2,"pattern":"^a","type":"string","x-pilcrow-type":"string"}`},
		{cms.Field{Type: cms.TypeNumber, Min: &two}, `{"minimum":2,"type":"number","x-pilcrow-type":"number"}`},
		{cms.Field{Type: cms.TypeMultiselect, Options: []string{"a"}, Max: &two}, `{"items":{"enum":["a"],"type":"string"},"maxItems":2,"type":"array","uniqueItems":true,"x-pilcrow-type":"multiselect"}`},
		{cms.Field{Type: cms.TypeBoolean, Label: "Done", Default: false}, `{"default":false,"title":"Done","type":"boolean","x-pilcrow-type":"boolean"}`},
		{cms.Field{Type: cms.TypeJSON}, `{"x-pilcrow-type":"json"}`},
	}
	for _, tt := range tests {
		b, _ := json.Marshal(fieldSchema(&tt.f))
		if string(b) != tt.want {
			t.Errorf("%s: %s, want %s", tt.f.Type, b, tt.want)
		}
	}
	// Every field type has a mapping: a new type must be added to fieldSchema.
	for _, ft := range cms.FieldTypes() {
		s := fieldSchema(&cms.Field{Type: ft})
		if _, typed := s["type"]; !typed && ft != cms.TypeJSON {
			t.Errorf("field type %s has no JSON Schema type", ft)
		}
	}
}
