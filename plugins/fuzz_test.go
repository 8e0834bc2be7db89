package plugins

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

// FuzzRouteBody: any body and Content-Type either map to a JSON value the
// isolate can take, or are refused with a message; text comes back intact.
// The seeds run as a unit test; fuzz with
//
//	go test ./plugins -run '^$' -fuzz FuzzRouteBody -fuzztime 30s
func FuzzRouteBody(f *testing.F) {
	for _, s := range []struct{ ct, body string }{
		{"application/json", `{"a":1,"b":[true,null,"x"]}`},
		{"application/json; charset=utf-8", `"hi"`},
		{"application/vnd.api+json", `[1,2,3]`},
		{"application/json", `{"a":`},
		{"application/json", `{"__proto__":{"x":1}}`},
		{"application/json", strings.Repeat("[", 200) + strings.Repeat("]", 200)},
		{"text/plain", "hello\nworld"},
		{"", "no type"},
		{"application/octet-stream", "\xff\xfe\x00"},
		{"APPLICATION/JSON", `1e400`},
		{"text/plain", ""},
	} {
		f.Add(s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		out, err := RouteBody(ct, body)
		if err != nil {
			if out != nil || err.Error() == "" {
				t.Fatalf("refusal %v came with output %q", err, out)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("accepted body maps to invalid JSON %q", out)
		}
		mt, _, _ := strings.Cut(strings.ToLower(ct), ";")
		mt = strings.TrimSpace(mt)
		isJSON := mt == "application/json" || strings.HasSuffix(mt, "+json")
		switch {
		case len(body) == 0:
			if string(out) != "null" {
				t.Fatalf("empty body maps to %q, want null", out)
			}
		case isJSON:
			if string(out) != string(body) {
				t.Fatalf("JSON body changed: %q → %q", body, out)
			}
		default:
			var s string
			if err := json.Unmarshal(out, &s); err != nil || s != string(body) || !utf8.ValidString(s) {
				t.Fatalf("text body %q came back as %q (%v)", body, out, err)
			}
		}
		// Idempotent: what a route got re-validates as a JSON body.
		if _, err := RouteBody("application/json", out); err != nil && len(body) > 0 && !isJSON {
			t.Fatalf("mapped text %q no longer passes as JSON: %v", out, err)
		}
	})
}

// FuzzCheckSetting: a value checkSetting accepts is stored as a JSON value
// that, sent back, is accepted again unchanged; refusals say why.
//
//	go test ./plugins -run '^$' -fuzz FuzzCheckSetting -fuzztime 30s
func FuzzCheckSetting(f *testing.F) {
	types := []manifest.SettingType{manifest.SettingString, manifest.SettingText, manifest.SettingNumber,
		manifest.SettingBoolean, manifest.SettingSelect, manifest.SettingURL, manifest.SettingEmail, manifest.SettingSecret}
	for i, raw := range []string{`"hello"`, `42`, `-1.5e3`, `true`, `"b"`, `"https://example.com/x"`, `"a@example.com"`,
		`"s3cr3t"`, `null`, `""`, `"http://"`, `"javascript:alert(1)"`, `"A <a@example.com>"`, `{"x":1}`, `1e999`, `"\u0000"`} {
		f.Add(uint8(i), false, []byte(raw))
		f.Add(uint8(i+3), true, []byte(raw))
	}
	f.Fuzz(func(t *testing.T, typ uint8, required bool, raw []byte) {
		s := manifest.Setting{Key: "k", Label: "K", Type: types[int(typ)%len(types)], Required: required,
			Options: []manifest.Option{{Value: "a", Label: "A"}, {Value: "b", Label: "B"}}}
		v, msg := checkSetting(s, raw)
		if msg != "" {
			if v != nil {
				t.Fatalf("%s %q: refusal %q with value %v", s.Type, raw, msg, v)
			}
			return
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s %q: accepted value %v does not encode: %v", s.Type, raw, v, err)
		}
		v2, msg2 := checkSetting(s, again)
		if msg2 != "" || v2 != v {
			t.Fatalf("%s %q: stored %s re-validates as %v, %q", s.Type, raw, again, v2, msg2)
		}
	})
}
