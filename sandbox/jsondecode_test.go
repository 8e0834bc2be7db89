package sandbox

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dop251/goja"
)

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	rt := goja.New()
	valid := []struct{ in, want string }{
		{`null`, `null`}, {` true `, `true`}, {`-0`, `0`}, {`12`, `12`}, {`-1.5e3`, `-1500`}, {`1E2`, `100`},
		{`123456789012345678901`, `123456789012345680000`},
		{`"a\"b\\c\/d\b\f\n\r\t"`, `"a\"b\\c/d\b\f\n\r\t"`},
		{`"\u00e9\ud83d\ude00"`, `"é😀"`}, {`"\ud800"`, `"\ufffd"`}, {`"\ud800\u0041"`, `"\ufffdA"`}, {`"\udc00x"`, `"\ufffdx"`},
		{`[]`, `[]`}, {`{}`, `{}`}, {`[1,[2,[3]],{"a":{"b":[]}}]`, `[1,[2,[3]],{"a":{"b":[]}}]`},
		{`{"__proto__":{"polluted":1},"b":2}`, `{"__proto__":{"polluted":1},"b":2}`},
		{`{"a":1,"a":2}`, `{"a":2}`},
	}
	for _, tc := range valid {
		v, err := decodeJSON(rt, []byte(tc.in), 64)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		enc := newValueEncoder(rt, LimitResult, 1<<20, 64)
		if _, err := enc.encode(v); err != nil || !jsonEqual(string(enc.buf), tc.want) {
			t.Errorf("%s: decoded to %s (%v), want %s", tc.in, enc.buf, err, tc.want)
		}
	}
	// The __proto__ key is an own property, not the prototype.
	v, _ := decodeJSON(rt, []byte(`{"__proto__":{"polluted":1}}`), 64)
	if p := v.(*goja.Object).Prototype(); p == nil || p.Get("polluted") != nil {
		t.Error("__proto__ key changed the prototype")
	}
	invalid := []string{``, `nul`, `[1,]`, `{"a" 1}`, `{a:1}`, `01`, `1.`, `.5`, `+1`, `1e`, `--1`, `"\x"`, `"\u12"`, "\"a\nb\"", `"abc`, `[1 2]`, `{"a":1,}`, `1 2`, `[`, `{"a":[}`, `NaN`}
	for _, in := range invalid {
		if _, err := decodeJSON(rt, []byte(in), 64); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	if _, err := decodeJSON(rt, []byte(deep), 64); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("deep input: %v", err)
	}
	if _, err := decodeJSON(rt, []byte(strings.Repeat("[", 1e7)), 512); err == nil {
		t.Error("1e7-deep input accepted")
	}
}

// FuzzDecodeJSON: the decoder accepts exactly what encoding/json accepts
// (within the depth cap) and preserves the value.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,"x",null,true,{"b":-0.5e-3}]}`, `"\ud83d\ude00"`, `[1e400]`, `"\u0000"`, `{"__proto__":1}`} {
		f.Add(s)
	}
	rt := goja.New()
	f.Fuzz(func(t *testing.T, doc string) {
		var want any
		stdErr := json.Unmarshal([]byte(doc), &want)
		v, err := decodeJSON(rt, []byte(doc), 64)
		if err != nil {
			if stdErr == nil && !strings.Contains(err.Error(), "nested deeper") {
				t.Fatalf("%q: rejected valid JSON: %v", doc, err)
			}
			return
		}
		if stdErr != nil {
			if strings.Contains(stdErr.Error(), "cannot unmarshal number") {
				return // out of float64 range: JS gives Infinity
			}
			t.Fatalf("%q: accepted invalid JSON (%v)", doc, stdErr)
		}
		enc := newValueEncoder(rt, LimitResult, 1<<22, 100)
		if _, err := enc.encode(v); err != nil {
			t.Fatalf("%q: %v", doc, err)
		}
		if !strings.Contains(doc, `\u`) && !strings.Contains(doc, `__proto__`) && !jsonEqual(string(enc.buf), doc) {
			t.Fatalf("%q: round trip gave %s", doc, enc.buf)
		}
	})
}
