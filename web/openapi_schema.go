package web

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"
	"unicode"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/plugins"
)

// schemaGen turns the Go types the handlers encode into JSON Schemas
// (OpenAPI 3.1 uses JSON Schema 2020-12), so the document describes what
// encoding/json really sends instead of a hand-kept copy that could drift.
// Named structs become components; everything else is inlined.
type schemaGen struct {
	defs  map[string]any
	names map[reflect.Type]string
	// input describes request bodies: decodeJSON requires no member and
	// refuses unknown ones, and null is what a pointer member accepts.
	// Input components are named …Input so they never share a name with
	// what the server sends.
	input bool
}

func newSchemaGen() *schemaGen {
	return &schemaGen{defs: map[string]any{}, names: map[reflect.Type]string{}}
}

// enums are the named string types whose values are a closed set.
var enums = map[reflect.Type][]string{
	reflect.TypeFor[cms.Role]():      {string(cms.RoleAdmin), string(cms.RoleEditor), string(cms.RoleAuthor)},
	reflect.TypeFor[cms.Status]():    {string(cms.StatusDraft), string(cms.StatusScheduled), string(cms.StatusPublished), string(cms.StatusTrashed)},
	reflect.TypeFor[cms.FieldType](): fieldTypeNames(),
	reflect.TypeFor[plugins.Status](): {string(plugins.StatusInstalled), string(plugins.StatusActive),
		string(plugins.StatusInactive)},
}

// componentNames rename types whose own name says little out of context.
var componentNames = map[reflect.Type]string{
	reflect.TypeFor[plugins.Info]():     "Plugin",
	reflect.TypeFor[manifest.Summary](): "ConsentSummary",
}

func fieldTypeNames() []string {
	var out []string
	for _, t := range cms.FieldTypes() {
		out = append(out, string(t))
	}
	return out
}

func componentRef(name string) map[string]any {
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

// of returns the schema of v's type: a $ref for named structs.
func (g *schemaGen) of(v any) map[string]any { return g.schema(reflect.TypeOf(v)) }

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawType:
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return nullable(g.schema(t.Elem()))
	case reflect.Interface:
		return map[string]any{}
	case reflect.String:
		s := map[string]any{"type": "string"}
		if vals, ok := enums[t]; ok {
			s["enum"] = vals
		}
		return s
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		items := g.schema(t.Elem())
		if t.Elem().Kind() == reflect.Pointer {
			items = g.schema(t.Elem().Elem()) // nil items are never encoded by these handlers
		}
		return map[string]any{"type": "array", "items": items}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Struct:
		if t.Name() == "" {
			return g.object(t)
		}
		name := g.name(t)
		if g.input && !strings.HasSuffix(name, "Input") {
			name += "Input"
		}
		if _, done := g.defs[name]; !done {
			g.defs[name] = map[string]any{} // placeholder: recursion stops here
			g.defs[name] = g.object(t)
		}
		return componentRef(name)
	}
	return map[string]any{}
}

// name picks a component name: the type's name with a capital, prefixed by
// its package's when two packages use the same name.
func (g *schemaGen) name(t reflect.Type) string {
	if n, ok := g.names[t]; ok {
		return n
	}
	n, renamed := componentNames[t]
	if !renamed {
		n = capitalise(t.Name())
	}
	for other, on := range g.names {
		if on == n && other != t {
			pkg := t.PkgPath()
			n = capitalise(pkg[strings.LastIndex(pkg, "/")+1:]) + n
			break
		}
	}
	g.names[t] = n
	return n
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// object is the schema of a struct as encoding/json writes it: members
// without omitempty/omitzero are always present (so required), nil pointers,
// slices and maps without omitempty are null, embedded structs are flattened,
// and nothing else is sent (additionalProperties false, so a handler that
// starts sending a member the document lacks fails the contract test).
func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	g.fields(t, props, &required)
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func (g *schemaGen) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				g.fields(et, props, required)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		omit := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
		var s map[string]any
		switch k := f.Type.Kind(); {
		case omit && k == reflect.Pointer:
			s = g.schema(f.Type.Elem()) // omitted when nil, so never null
		case !omit && (k == reflect.Slice || k == reflect.Map) && f.Type != rawType:
			s = nullable(g.schema(f.Type))
		default:
			s = g.schema(f.Type)
		}
		props[name] = s
		if !omit && !g.input {
			*required = append(*required, name)
		}
	}
}

// nullable lets s also be null.
func nullable(s map[string]any) map[string]any {
	if len(s) == 0 {
		return s // {} already allows null
	}
	if typ, ok := s["type"].(string); ok && s["$ref"] == nil {
		c := make(map[string]any, len(s))
		for k, v := range s {
			c[k] = v
		}
		c["type"] = []string{typ, "null"}
		if e, ok := c["enum"].([]string); ok {
			c["enum"] = append(append([]any{}, anySlice(e)...), nil)
		}
		return c
	}
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// fieldSchema is the JSON Schema of one collection field's value, from its
// type and constraints (cms/fields.go is the authority on what is stored).
func fieldSchema(f *cms.Field) map[string]any {
	s := map[string]any{}
	bounds := func(minKey, maxKey string) {
		if f.Min != nil {
			s[minKey] = boundValue(minKey, *f.Min)
		}
		if f.Max != nil {
			s[maxKey] = boundValue(maxKey, *f.Max)
		}
	}
	switch f.Type {
	case cms.TypeString, cms.TypeText, cms.TypeMarkdown:
		s["type"] = "string"
		bounds("minLength", "maxLength")
		if f.Pattern != "" {
			s["pattern"] = f.Pattern
		}
		if f.Type == cms.TypeMarkdown {
			s["contentMediaType"] = "text/markdown"
		}
	case cms.TypeSlug:
		s["type"] = "string"
		s["pattern"] = `^[a-z0-9]+(?:-[a-z0-9]+)*$`
		bounds("minLength", "maxLength")
	case cms.TypeNumber:
		s["type"] = "number"
		bounds("minimum", "maximum")
	case cms.TypeInteger:
		s["type"] = "integer"
		bounds("minimum", "maximum")
	case cms.TypeBoolean:
		s["type"] = "boolean"
	case cms.TypeDatetime:
		s["type"] = "string"
		s["format"] = "date-time"
	case cms.TypeSelect:
		s["type"] = "string"
		s["enum"] = f.Options
	case cms.TypeMultiselect:
		s["type"] = "array"
		s["items"] = map[string]any{"type": "string", "enum": f.Options}
		s["uniqueItems"] = true
		bounds("minItems", "maxItems")
	case cms.TypeReference:
		s["type"] = "string"
		s["format"] = "uuid"
		s["description"] = "the id of an entry of " + f.Collection
		s["x-pilcrow-collection"] = f.Collection
	case cms.TypeMedia:
		s["type"] = "string"
		s["format"] = "uuid"
		s["description"] = "the id of a media item"
	case cms.TypeJSON:
		// any JSON value
	}
	if f.Label != "" {
		s["title"] = f.Label
	}
	if f.Default != nil {
		s["default"] = f.Default
	}
	s["x-pilcrow-type"] = string(f.Type)
	return s
}

// boundValue writes length and count bounds as integers, as JSON Schema
// requires for minLength and friends.
func boundValue(key string, v float64) any {
	if key == "minimum" || key == "maximum" {
		return v
	}
	return int64(v)
}

// collectionDataSchema is the schema of a collection's entry data: one
// property per field. Fields are optional here because drafts may lack them
// and a field added later is absent from older entries.
func collectionDataSchema(c *cms.Collection) map[string]any {
	props := map[string]any{}
	var req []string
	for _, f := range c.Fields {
		if f == nil {
			continue
		}
		props[f.Name] = fieldSchema(f)
		if f.Required {
			req = append(req, f.Name)
		}
	}
	s := map[string]any{"type": "object", "properties": props,
		"description": "The data of an entry of " + c.Name + " (" + c.Label + ")."}
	if len(req) > 0 {
		s["x-pilcrow-required"] = req
	}
	return s
}
