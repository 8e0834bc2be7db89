package manifest

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// SchemaJSON is the manifest's JSON Schema (draft 2020-12). docs/manifest.schema.json
// is a byte-identical copy for editors (a test keeps them equal).
//
//go:generate cp manifest.schema.json ../docs/manifest.schema.json
//go:embed manifest.schema.json
var SchemaJSON []byte

const schemaURL = "https://pilcrow-cms.github.io/pilcrow/manifest.schema.json"

var compiledSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	if err := c.AddResource(schemaURL, bytes.NewReader(SchemaJSON)); err != nil {
		return nil, fmt.Errorf("manifest schema: %w", err)
	}
	s, err := c.Compile(schemaURL)
	if err != nil {
		return nil, fmt.Errorf("manifest schema: %w", err)
	}
	return s, nil
})

// schemaProblems validates doc (decoded with UseNumber) against the schema and turns
// each failing leaf into a human message.
func schemaProblems(doc any, sm *sourceMap) []Problem {
	s, err := compiledSchema()
	if err != nil {
		// The schema is embedded and compiled by the tests; this only fires if the
		// binary was built from a broken tree.
		return []Problem{{File: "manifest.json", Message: err.Error()}}
	}
	err = s.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Problem{{File: "manifest.json", Message: err.Error()}}
	}
	var out []Problem
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, describe(e, doc, sm)...)
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return out
}

// instancePath converts the library's instance location (RFC 6901 tokens that are
// additionally URL-path-escaped) to a plain JSON pointer.
func instancePath(loc string) string {
	if loc == "" {
		return ""
	}
	parts := strings.Split(loc, "/")
	for i, p := range parts {
		if u, err := url.PathUnescape(p); err == nil {
			parts[i] = u
		}
	}
	return strings.Join(parts, "/")
}

var quotedRE = regexp.MustCompile(`'((?:[^'\\]|\\.)*)'`)

// quotedNames extracts the names the library quotes in its messages ('a', 'b').
func quotedNames(msg string) []string {
	var names []string
	for _, m := range quotedRE.FindAllStringSubmatch(msg, -1) {
		inner := strings.ReplaceAll(m[1], `\'`, `'`)
		inner = strings.ReplaceAll(inner, `"`, `\"`)
		if s, err := strconv.Unquote(`"` + inner + `"`); err == nil {
			names = append(names, s)
		} else {
			names = append(names, m[1])
		}
	}
	return names
}

// describe maps one schema failure to problems with plain messages. Messages are
// keyed by the failing keyword and, where the generic text would be unhelpful
// (patterns, enums), by the instance path.
func describe(e *jsonschema.ValidationError, doc any, sm *sourceMap) []Problem {
	path := instancePath(e.InstanceLocation)
	kw := e.KeywordLocation[strings.LastIndexByte(e.KeywordLocation, '/')+1:]
	val, _ := lookup(doc, path)
	shape := pathShape(path)
	switch kw {
	case "additionalProperties":
		var ps []Problem
		for _, name := range quotedNames(e.Message) {
			ps = append(ps, sm.problem(pointer(path, name), true, fmt.Sprintf("unknown key %q%s", name, keyHint(shape, name))))
		}
		return ps
	case "required":
		var ps []Problem
		for _, name := range quotedNames(e.Message) {
			ps = append(ps, sm.problem(path, false, fmt.Sprintf("missing required key %q", name)))
		}
		return ps
	case "propertyNames":
		return nil // reported by the pattern/maxLength failure inside it
	}
	if strings.Contains(e.KeywordLocation, "/propertyNames/") {
		name := path[strings.LastIndexByte(path, '/')+1:]
		return []Problem{sm.problem(path, true, fmt.Sprintf("storage collection name %q must start with a lowercase letter and contain only lowercase letters, digits and \"_\" (at most 63 characters)", unescapeToken(name)))}
	}
	msg := e.Message
	switch kw {
	case "type":
		msg = typeMessage(e.Message)
	case "enum":
		msg = enumMessage(shape, val)
	case "pattern":
		msg = patternMessage(shape, val)
	case "minLength":
		msg = "must not be empty"
	case "maxLength":
		msg = fmt.Sprintf("is too long (at most %s characters)", nthNumber(e.Message, 0))
	case "minItems":
		msg = fmt.Sprintf("needs at least %s item(s)", nthNumber(e.Message, 0))
	case "maxItems":
		msg = fmt.Sprintf("has too many items (at most %s)", nthNumber(e.Message, 0))
	case "maxProperties":
		msg = fmt.Sprintf("has too many entries (at most %s)", nthNumber(e.Message, 0))
	case "minimum":
		msg = fmt.Sprintf("must be at least %s", nthNumber(e.Message, 0))
	case "maximum":
		msg = fmt.Sprintf("must be at most %s", nthNumber(e.Message, 0))
	case "uniqueItems":
		// "items at index i and j are equal": report the later one.
		i, j := nthNumber(e.Message, 0), nthNumber(e.Message, 1)
		return []Problem{sm.problem(path+"/"+j, false, fmt.Sprintf("%s is listed twice (also at index %s)", display(lookupIgnore(doc, path+"/"+j)), i))}
	}
	return []Problem{sm.problem(path, false, msg)}
}

func unescapeToken(s string) string {
	return strings.NewReplacer("~1", "/", "~0", "~").Replace(s)
}

var numberRE = regexp.MustCompile(`-?[0-9]+(\.[0-9]+)?`)

// nthNumber returns the n-th number (from 0) in one of the library's messages, all
// of which state the limit before the value found ("minimum 1 items required, but
// found 0 items").
func nthNumber(msg string, n int) string {
	all := numberRE.FindAllString(msg, -1)
	if len(all) <= n {
		return "?"
	}
	return all[n]
}

var typeNames = map[string]string{
	"string": "a string", "number": "a number", "integer": "a whole number",
	"boolean": "true or false", "object": "an object", "array": "an array", "null": "null",
}

// typeMessage rewrites "expected string or object, but got number".
func typeMessage(msg string) string {
	want, got, ok := strings.Cut(strings.TrimPrefix(msg, "expected "), ", but got ")
	if !ok {
		return msg
	}
	var parts []string
	for _, w := range strings.Split(want, " or ") {
		if n, ok := typeNames[w]; ok {
			w = n
		}
		parts = append(parts, w)
	}
	if n, ok := typeNames[got]; ok {
		got = n
	}
	if got == "a number" && want == "integer" {
		return "must be a whole number"
	}
	return fmt.Sprintf("must be %s, not %s", strings.Join(parts, " or "), got)
}

// pathShape replaces array indexes and map keys by placeholders so messages can be
// chosen per field: "/hooks/3/name" -> "/hooks/*/name", "/storage/x/indexes/0" ->
// "/storage/*/indexes/*".
func pathShape(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if _, err := strconv.Atoi(p); err == nil && p != "" {
			parts[i] = "*"
		}
		if i == 2 && parts[1] == "storage" {
			parts[i] = "*"
		}
	}
	s := strings.Join(parts, "/")
	// Composite index fields are one level deeper than single ones.
	return strings.Replace(s, "/indexes/*/*", "/indexes/*", 1)
}

func enumMessage(shape string, val any) string {
	switch shape {
	case "/capabilities/*":
		return fmt.Sprintf("unknown capability %s; the capabilities are %s", display(val), joinQuoted(AllCapabilities()))
	case "/hooks/*", "/hooks/*/name":
		return fmt.Sprintf("unknown hook %s; the hooks are %s", display(val), joinQuoted(AllHooks()))
	case "/routes/*/permission":
		return fmt.Sprintf("unknown permission %s; use \"admin\", \"editor\" or \"author\"", display(val))
	case "/settings/*/type":
		return fmt.Sprintf("unknown setting type %s; use string, text, number, boolean, select, url, email or secret", display(val))
	}
	return fmt.Sprintf("%s is not an allowed value", display(val))
}

func patternMessage(shape string, val any) string {
	v := display(val)
	switch shape {
	case "/id":
		return fmt.Sprintf("id %s must be 2-64 characters: a lowercase letter, then lowercase letters, digits or \"-\"", v)
	case "/version":
		return fmt.Sprintf("version %s is not a semantic version like 1.2.3 or 1.0.0-beta.1 (no leading \"v\", no leading zeros)", v)
	case "/storage/*/indexes/*":
		return fmt.Sprintf("index field %s must start with a letter and contain only letters, digits and \"_\"", v)
	case "/routes/*/name":
		return fmt.Sprintf("route name %s must start with a lowercase letter or digit and contain only lowercase letters, digits, \"/\", \"_\" and \"-\"", v)
	case "/settings/*/key":
		return fmt.Sprintf("setting key %s must start with a letter and contain only letters, digits and \"_\"", v)
	case "/cron/*/name":
		return fmt.Sprintf("schedule name %s must start with a lowercase letter and contain only lowercase letters, digits, \"_\" and \"-\"", v)
	}
	return fmt.Sprintf("%s has an invalid format", v)
}

// keyHint suggests the right spelling for a few common mistakes.
func keyHint(shape, name string) string {
	hints := map[string]string{
		"allowedHosts": "; put it inside \"network\"",
		"permissions":  "; did you mean \"capabilities\"?",
		"timeout":      "; did you mean \"timeoutMs\"?",
		"secret":       "; use \"type\": \"secret\"",
	}
	if h, ok := hints[name]; ok {
		return h
	}
	if shape == "" {
		return "; the manifest keys are $schema, id, version, name, description, author, license, homepage, capabilities, network, storage, hooks, routes, settings, cron and limits"
	}
	return ""
}

func joinQuoted[T ~string](vs []T) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = strconv.Quote(string(v))
	}
	return strings.Join(q, ", ")
}

// display renders a JSON value for a message.
func display(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprint(v)
}

// lookup resolves a JSON pointer in a decoded document.
func lookup(doc any, path string) (any, bool) {
	if path == "" {
		return doc, true
	}
	cur := doc
	for _, tok := range strings.Split(path[1:], "/") {
		tok = unescapeToken(tok)
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

func lookupIgnore(doc any, path string) any {
	v, _ := lookup(doc, path)
	return v
}
