package cms

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// FieldType is the type of a collection field.
type FieldType string

const (
	TypeString      FieldType = "string"
	TypeText        FieldType = "text"
	TypeMarkdown    FieldType = "markdown"
	TypeNumber      FieldType = "number"
	TypeInteger     FieldType = "integer"
	TypeBoolean     FieldType = "boolean"
	TypeDatetime    FieldType = "datetime"
	TypeSelect      FieldType = "select"
	TypeMultiselect FieldType = "multiselect"
	TypeSlug        FieldType = "slug"
	TypeReference   FieldType = "reference"
	TypeMedia       FieldType = "media"
	TypeJSON        FieldType = "json"
)

var fieldTypes = []FieldType{TypeString, TypeText, TypeMarkdown, TypeNumber, TypeInteger, TypeBoolean,
	TypeDatetime, TypeSelect, TypeMultiselect, TypeSlug, TypeReference, TypeMedia, TypeJSON}

// Field is one field of a collection.
type Field struct {
	Name     string    `json:"name"`
	Type     FieldType `json:"type"`
	Label    string    `json:"label,omitempty"`
	Required bool      `json:"required,omitempty"`
	// Unique values are unique among the collection's entries (trashed ones included,
	// so restoring from the trash never creates a duplicate).
	Unique bool `json:"unique,omitempty"`
	// Index, when false, turns off the field's filter and sort indexes (one
	// over the working copy, one over the public copy): filters and sorts on
	// it then scan the collection, and each save writes two B-trees fewer.
	// Unset means on for the types that can be indexed (FieldType.indexed),
	// so definitions written before the option keep their indexes.
	Index   *bool `json:"index,omitempty"`
	Default any   `json:"default,omitempty"`
	// Min and Max bound numbers (number, integer), lengths in characters
	// (string, text, markdown, slug) or item counts (multiselect).
	Min     *float64 `json:"min,omitempty"`
	Max     *float64 `json:"max,omitempty"`
	Pattern string   `json:"pattern,omitempty"`
	// Options are the allowed values of select and multiselect fields.
	Options []string `json:"options,omitempty"`
	// From names the string field a slug is generated from.
	From string `json:"from,omitempty"`
	// Collection is the target collection of a reference field.
	Collection string `json:"collection,omitempty"`

	re *regexp.Regexp
}

var (
	nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	slugRE = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)
	uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

const (
	maxNameLen     = 64
	maxFields      = 100
	maxOptions     = 200
	maxPatternLen  = 500
	maxStringChars = 100_000 // any string value, whatever its field's max
	maxSlugChars   = 200
	maxJSONBytes   = 256 << 10
	// maxSafeInteger is 2^53-1: integers beyond it lose precision in JavaScript clients.
	maxSafeInteger = 1<<53 - 1
)

// DatetimeLayout is how datetime values are stored and returned: UTC with
// milliseconds, so that string order is time order (filters and sorts rely on it).
const DatetimeLayout = "2006-01-02T15:04:05.000Z"

func (t FieldType) valid() bool { return slices.Contains(fieldTypes, t) }

// indexed reports whether values of the type get a filter/sort index: scalar
// values only; long texts, arrays and JSON are filtered by scanning.
func (t FieldType) indexed() bool {
	switch t {
	case TypeString, TypeNumber, TypeInteger, TypeBoolean, TypeDatetime, TypeSelect, TypeSlug, TypeReference, TypeMedia:
		return true
	}
	return false
}

// indexed reports whether the field has its filter/sort indexes: its type can
// be indexed and its definition does not turn them off.
func (f *Field) indexed() bool { return f.Type.indexed() && (f.Index == nil || *f.Index) }

// searchable reports whether values of the type feed full-text search.
func (t FieldType) searchable() bool {
	return t == TypeString || t == TypeText || t == TypeMarkdown || t == TypeSlug
}

func (t FieldType) hasLength() bool {
	return t == TypeString || t == TypeText || t == TypeMarkdown || t == TypeSlug
}

// validateFields checks field definitions, reporting problems under /fields/i.
// It compiles patterns as a side effect.
func validateFields(v *ValidationError, fields []*Field) {
	if len(fields) > maxFields {
		v.Add("/fields", fmt.Sprintf("must have at most %d fields", maxFields))
		return
	}
	seen := map[string]bool{}
	slugs := 0
	for i, f := range fields {
		p := fmt.Sprintf("/fields/%d", i)
		if f == nil {
			v.Add(p, "must be an object")
			continue
		}
		switch {
		case f.Name == "":
			v.Add(p+"/name", "is required")
		case len(f.Name) > maxNameLen || !nameRE.MatchString(f.Name):
			v.Add(p+"/name", fmt.Sprintf("must match ^[a-z][a-z0-9_]*$ and be at most %d characters", maxNameLen))
		case seen[f.Name]:
			v.Add(p+"/name", fmt.Sprintf("duplicates field %q", f.Name))
		}
		seen[f.Name] = true
		if utf8.RuneCountInString(f.Label) > 200 {
			v.Add(p+"/label", "must be at most 200 characters")
		}
		if !f.Type.valid() {
			names := make([]string, len(fieldTypes))
			for i, t := range fieldTypes {
				names[i] = string(t)
			}
			v.Add(p+"/type", "must be one of "+strings.Join(names, ", "))
			continue
		}
		validateFieldOptions(v, p, f, fields)
		if f.Type == TypeSlug {
			slugs++
			if slugs > 1 {
				v.Add(p+"/type", "a collection has at most one slug field")
			}
		}
	}
}

func validateFieldOptions(v *ValidationError, p string, f *Field, fields []*Field) {
	t := f.Type
	if f.Unique && !(t.indexed() && t != TypeBoolean) {
		v.Add(p+"/unique", fmt.Sprintf("is not supported for %s fields", t))
	}
	if f.Index != nil {
		switch {
		case *f.Index && !t.indexed():
			v.Add(p+"/index", fmt.Sprintf("field %q: %s fields cannot be indexed (long texts, arrays and JSON are filtered by scanning)", f.Name, t))
		case !*f.Index && f.Unique:
			// Each save finds a duplicate through the field's index; without
			// it, every save would scan the collection.
			v.Add(p+"/index", fmt.Sprintf("field %q: a unique field keeps its index (its uniqueness is checked through it)", f.Name))
		}
	}
	if f.Min != nil || f.Max != nil {
		switch {
		case t == TypeNumber || t == TypeInteger:
		case t.hasLength() || t == TypeMultiselect:
			if f.Min != nil && (*f.Min < 0 || *f.Min != float64(int64(*f.Min))) {
				v.Add(p+"/min", "must be a whole number ≥ 0 for a length or count")
			}
			if f.Max != nil && (*f.Max < 0 || *f.Max != float64(int64(*f.Max))) {
				v.Add(p+"/max", "must be a whole number ≥ 0 for a length or count")
			}
		default:
			v.Add(p+"/min", fmt.Sprintf("min/max are not supported for %s fields", t))
		}
		if f.Min != nil && f.Max != nil && *f.Min > *f.Max {
			v.Add(p+"/max", "must be ≥ min")
		}
	}
	if f.Pattern != "" {
		switch {
		case !t.hasLength():
			v.Add(p+"/pattern", fmt.Sprintf("is not supported for %s fields", t))
		case len(f.Pattern) > maxPatternLen:
			v.Add(p+"/pattern", fmt.Sprintf("must be at most %d bytes", maxPatternLen))
		default:
			// Go's RE2 engine runs in linear time, so a pattern cannot be made to backtrack.
			re, err := regexp.Compile(f.Pattern)
			if err != nil {
				v.Add(p+"/pattern", "is not a valid regular expression: "+err.Error())
			}
			f.re = re
		}
	}
	if t == TypeSelect || t == TypeMultiselect {
		switch {
		case len(f.Options) == 0:
			v.Add(p+"/options", "is required for "+string(t)+" fields")
		case len(f.Options) > maxOptions:
			v.Add(p+"/options", fmt.Sprintf("must have at most %d options", maxOptions))
		}
		seen := map[string]bool{}
		for j, o := range f.Options {
			if o == "" || utf8.RuneCountInString(o) > 200 {
				v.Add(fmt.Sprintf("%s/options/%d", p, j), "must be 1 to 200 characters")
			}
			if seen[o] {
				v.Add(fmt.Sprintf("%s/options/%d", p, j), fmt.Sprintf("duplicates option %q", o))
			}
			seen[o] = true
		}
	} else if len(f.Options) > 0 {
		v.Add(p+"/options", fmt.Sprintf("is only for select and multiselect fields, not %s", t))
	}
	if t == TypeSlug {
		if f.From != "" {
			src := fieldNamed(fields, f.From)
			switch {
			case src == nil:
				v.Add(p+"/from", fmt.Sprintf("names no field of this collection: %q", f.From))
			case src.Type != TypeString && src.Type != TypeText:
				v.Add(p+"/from", fmt.Sprintf("must name a string or text field; %q is %s", f.From, src.Type))
			}
		}
	} else if f.From != "" {
		v.Add(p+"/from", "is only for slug fields")
	}
	if t == TypeReference {
		if f.Collection == "" {
			v.Add(p+"/collection", "is required for reference fields: the collection referenced entries belong to")
		} else if !nameRE.MatchString(f.Collection) {
			v.Add(p+"/collection", "must be a collection name")
		}
	} else if f.Collection != "" {
		v.Add(p+"/collection", "is only for reference fields")
	}
	if f.Default != nil {
		if t == TypeSlug {
			v.Add(p+"/default", "slug fields cannot have a default: slugs are unique")
		} else if f.Unique {
			v.Add(p+"/default", "unique fields cannot have a default")
		} else {
			norm, probs := f.normalize(f.Default)
			for _, m := range probs {
				v.Add(p+"/default", m)
			}
			if len(probs) == 0 {
				f.Default = norm
			}
		}
	}
}

func fieldNamed(fields []*Field, name string) *Field {
	for _, f := range fields {
		if f != nil && f.Name == name {
			return f
		}
	}
	return nil
}

// normalize checks one value against the field and returns it in its stored
// form (numbers as float64 or int64, datetimes in DatetimeLayout). It returns
// every problem found; nil values are handled by the caller (they clear a field).
func (f *Field) normalize(val any) (any, []string) {
	var probs []string
	bad := func(format string, a ...any) { probs = append(probs, fmt.Sprintf(format, a...)) }
	switch f.Type {
	case TypeString, TypeText, TypeMarkdown, TypeSlug:
		s, ok := val.(string)
		if !ok {
			return nil, []string{"must be a string, not " + jsonKind(val)}
		}
		if !utf8.ValidString(s) {
			return nil, []string{"must be valid UTF-8"}
		}
		if strings.IndexByte(s, 0) >= 0 {
			return nil, []string{noNUL}
		}
		n := utf8.RuneCountInString(s)
		if n > maxStringChars {
			bad("must be at most %d characters", maxStringChars)
		}
		if f.Type == TypeSlug {
			if n > maxSlugChars || !slugRE.MatchString(s) {
				bad("must be lowercase letters and digits separated by single hyphens (at most %d characters)", maxSlugChars)
			}
		}
		if f.Type == TypeString && strings.ContainsAny(s, "\r\n") {
			bad("must be a single line (use a text field for several lines)")
		}
		if f.Min != nil && float64(n) < *f.Min {
			bad("must be at least %d characters", int64(*f.Min))
		}
		if f.Max != nil && float64(n) > *f.Max {
			bad("must be at most %d characters", int64(*f.Max))
		}
		if f.re != nil && !f.re.MatchString(s) {
			bad("must match the pattern %s", f.Pattern)
		}
		return s, probs
	case TypeNumber, TypeInteger:
		x, isInt, ok := toNumber(val)
		if !ok {
			return nil, []string{"must be a number, not " + jsonKind(val)}
		}
		if f.Type == TypeInteger {
			if !isInt || x > maxSafeInteger || x < -maxSafeInteger {
				return nil, []string{fmt.Sprintf("must be a whole number between -%d and %d", int64(maxSafeInteger), int64(maxSafeInteger))}
			}
		}
		if f.Min != nil && x < *f.Min {
			bad("must be ≥ %v", *f.Min)
		}
		if f.Max != nil && x > *f.Max {
			bad("must be ≤ %v", *f.Max)
		}
		if f.Type == TypeInteger {
			return int64(x), probs
		}
		return x, probs
	case TypeBoolean:
		b, ok := val.(bool)
		if !ok {
			return nil, []string{"must be true or false, not " + jsonKind(val)}
		}
		return b, nil
	case TypeDatetime:
		s, ok := val.(string)
		if !ok {
			return nil, []string{"must be an RFC 3339 date-time string, not " + jsonKind(val)}
		}
		t, err := parseTime(s)
		if err != nil {
			return nil, []string{`must be an RFC 3339 date-time such as "2026-01-02T15:04:05Z"`}
		}
		return t.UTC().Format(DatetimeLayout), nil
	case TypeSelect:
		s, ok := val.(string)
		if !ok {
			return nil, []string{"must be a string, not " + jsonKind(val)}
		}
		if !slices.Contains(f.Options, s) {
			return nil, []string{"must be one of " + quoteList(f.Options)}
		}
		return s, nil
	case TypeMultiselect:
		arr, ok := val.([]any)
		if !ok {
			return nil, []string{"must be an array of strings, not " + jsonKind(val)}
		}
		out := make([]any, 0, len(arr))
		seen := map[string]bool{}
		for i, item := range arr {
			s, ok := item.(string)
			switch {
			case !ok:
				bad("item %d must be a string, not %s", i, jsonKind(item))
			case !slices.Contains(f.Options, s):
				bad("item %d must be one of %s", i, quoteList(f.Options))
			case seen[s]:
				bad("item %d repeats %q", i, s)
			default:
				seen[s] = true
				out = append(out, s)
			}
		}
		if f.Min != nil && float64(len(arr)) < *f.Min {
			bad("must have at least %d items", int64(*f.Min))
		}
		if f.Max != nil && float64(len(arr)) > *f.Max {
			bad("must have at most %d items", int64(*f.Max))
		}
		return out, probs
	case TypeReference, TypeMedia:
		s, ok := val.(string)
		if !ok || !uuidRE.MatchString(s) {
			what := "an entry id"
			if f.Type == TypeMedia {
				what = "a media id"
			}
			return nil, []string{"must be " + what + " (a lowercase UUID string)"}
		}
		return s, nil
	case TypeJSON:
		b, err := json.Marshal(val)
		if err != nil {
			return nil, []string{"must be a JSON value"}
		}
		if len(b) > maxJSONBytes {
			return nil, []string{fmt.Sprintf("must be at most %d bytes of JSON", maxJSONBytes)}
		}
		if deeperThan(val, MaxJSONFieldDepth) {
			return nil, []string{fmt.Sprintf("must be nested at most %d levels deep", MaxJSONFieldDepth)}
		}
		if holdsNUL(val) {
			return nil, []string{noNUL}
		}
		return val, nil
	}
	return nil, []string{"has an unknown type " + string(f.Type)}
}

// toNumber accepts the numeric forms JSON decoding produces.
func toNumber(val any) (x float64, isInt, ok bool) {
	switch n := val.(type) {
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return float64(i), true, true
		}
		f, err := n.Float64()
		if err != nil {
			return 0, false, false
		}
		return f, f == float64(int64(f)), true
	case float64:
		return n, n == float64(int64(n)), true
	case int64:
		return float64(n), true, true
	case int:
		return float64(n), true, true
	}
	return 0, false, false
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64, int64, int:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func quoteList(opts []string) string {
	q := make([]string, len(opts))
	for i, o := range opts {
		q[i] = fmt.Sprintf("%q", o)
	}
	return strings.Join(q, ", ")
}

// MaxJSONFieldDepth bounds the nesting of a json field's value. Entries
// travel to plugin hooks and back: into the isolate nested at most
// sandbox.MaxJSONDepth (512) levels, out of it (a beforeSave's returned
// data, a ctx.content write) at most the sandbox's MaxDepth limit (64), and
// the data object around the field adds a level. With this bound every
// entry the CMS accepts can make the round trip (site's tests check the
// arithmetic).
const MaxJSONFieldDepth = 48

// deeperThan reports whether v (a decoded JSON value) nests more than max
// levels of arrays and objects. It stops descending at the bound.
func deeperThan(v any, max int) bool {
	if max < 0 {
		return true
	}
	switch x := v.(type) {
	case map[string]any:
		if max == 0 {
			return true
		}
		for _, e := range x {
			if deeperThan(e, max-1) {
				return true
			}
		}
	case []any:
		if max == 0 {
			return true
		}
		for _, e := range x {
			if deeperThan(e, max-1) {
				return true
			}
		}
	}
	return false
}

// FieldTypes lists every field type, for documents that enumerate them.
func FieldTypes() []FieldType { return slices.Clone(fieldTypes) }

// noNUL is the problem of a value holding U+0000: PostgreSQL's JSON cannot
// hold it, so it is refused on every database and a site can move between
// them.
const noNUL = "must not contain a NUL character (U+0000)"

// holdsNUL reports whether a decoded JSON value has U+0000 in a string or key.
func holdsNUL(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.IndexByte(x, 0) >= 0
	case []any:
		for _, e := range x {
			if holdsNUL(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range x {
			if strings.IndexByte(k, 0) >= 0 || holdsNUL(e) {
				return true
			}
		}
	}
	return false
}
