package sandbox

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dop251/goja"
)

// encodeJS evaluates expr in a bare runtime and encodes it.
func encodeJS(t testing.TB, rt *goja.Runtime, expr string, maxBytes int) (string, bool, error) {
	t.Helper()
	v, err := rt.RunString("(" + expr + ")")
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	enc := newValueEncoder(rt, LimitResult, maxBytes, 64)
	var ok bool
	ex := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = errors.New("panic")
			}
		}()
		ok, err = enc.encode(v)
		return err
	}()
	return string(enc.buf), ok, ex
}

func TestValueEncoderMatchesJSONStringify(t *testing.T) {
	t.Parallel()
	rt := goja.New()
	exprs := []string{
		`null`, `true`, `0`, `-0`, `1.5`, `-1e-7`, `1e21`, `123456789012345680000`, `2**53`, `NaN`, `Infinity`,
		`"plain"`, `"quote\" backslash\\ newline\n tab\t nul\u0000 del\u007f"`, `"é😀\u2029"`,
		`[]`, `{}`, `[1, [2, [3]]]`, `{a: 1, b: {c: [true, null]}}`,
		`[undefined, function(){}, Symbol("s")]`, `{u: undefined, f(){}, s: Symbol("x")}`,
		`{toJSON(){ return {replaced: true} }}`, `{a: {toJSON(key){ return key }}}`, `[{toJSON(k){ return k }}]`,
		`new Date(86400000)`, `{n: new Number(3), s: new String("s"), b: new Boolean(false)}`,
		`Object.assign(Object.create({inherited: 1}), {own: 2})`,
		`{2: "b", 1: "a", x: "c"}`, `[,1,,]`, `{get g(){ return 5 }}`,
		`new Proxy({a: 1}, {})`, `new Map([[1,2]])`, `/re/g`,
	}
	for _, expr := range exprs {
		got, ok, err := encodeJS(t, rt, expr, 1<<20)
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		want, err := rt.RunString("JSON.stringify(" + expr + ")")
		if err != nil {
			t.Fatal(err)
		}
		if goja.IsUndefined(want) {
			if ok {
				t.Errorf("%s: encoded %s, JSON.stringify gives undefined", expr, got)
			}
			continue
		}
		if !ok || !jsonEqual(got, want.String()) {
			t.Errorf("%s: got %s (ok=%v), JSON.stringify gives %s", expr, got, ok, want)
		}
	}
}

func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func TestValueEncoderLimits(t *testing.T) {
	t.Parallel()
	rt := goja.New()
	tests := []struct {
		expr string
		max  int
		want error
	}{
		{`"x".repeat(100)`, 50, ErrLimitExceeded},
		{`new Array(1e9)`, 1000, ErrLimitExceeded},
		{`Array.from({length: 100}, () => "abc")`, 200, ErrLimitExceeded},
		{`(() => { const a = {}; a.a = a; return a })()`, 1000, ErrBadValue},
		{`(() => { const a = []; a.push(a); return a })()`, 1000, ErrBadValue},
		{`(() => { let a = 1; for (let i = 0; i < 100; i++) a = [a]; return a })()`, 1 << 20, ErrBadValue},
		{`10n`, 100, ErrBadValue},
		{`{toJSON(){ throw new Error("no") }}`, 100, nil},
	}
	for _, tc := range tests {
		_, _, err := encodeJS(t, rt, tc.expr, tc.max)
		if tc.want == nil {
			if err == nil {
				t.Errorf("%s: no error", tc.expr)
			}
			continue
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.expr, err, tc.want)
		}
	}
	// The same object twice (not a cycle) is fine.
	if got, _, err := encodeJS(t, rt, `(() => { const o = {x: 1}; return [o, o] })()`, 100); err != nil || got != `[{"x":1},{"x":1}]` {
		t.Errorf("shared object: %s %v", got, err)
	}
}

// FuzzValueEncoder feeds JSON documents through goja's JSON.parse and back
// out through the encoder: the output must be valid JSON equal to the input.
func FuzzValueEncoder(f *testing.F) {
	for _, s := range []string{`null`, `{"a":[1,2,{"b":"c"}]}`, `"\u0000\ud83d\ude00"`, `[1e300,-0,0.1]`, `{"__proto__":{"x":1}}`, `"\xff"`} {
		f.Add(s)
	}
	rt := goja.New()
	parse, _ := goja.AssertFunction(rt.Get("JSON").(*goja.Object).Get("parse"))
	f.Fuzz(func(t *testing.T, doc string) {
		if len(doc) > 4096 {
			return // goja's JSON.parse recurses per level in Go
		}
		v, err := parse(goja.Undefined(), rt.ToValue(doc))
		if err != nil {
			return
		}
		enc := newValueEncoder(rt, LimitResult, 1<<20, 64)
		ok, err := enc.encode(v)
		if err != nil {
			if errors.Is(err, ErrLimitExceeded) {
				return
			}
			t.Fatalf("%q: %v", doc, err)
		}
		if !ok || !json.Valid(enc.buf) {
			t.Fatalf("%q: invalid output %q", doc, enc.buf)
		}
		if utf8.ValidString(doc) && !strings.Contains(doc, `\u`) && !strings.Contains(doc, `\ud`) && !jsonEqual(doc, string(enc.buf)) {
			t.Fatalf("%q: round trip gave %s", doc, enc.buf)
		}
	})
}

// FuzzJSONString: any Go string quotes to valid JSON that decodes back to
// the same text (invalid UTF-8 becoming U+FFFD).
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "a\"b\\c\n", "\x00\x1f\u2028", "\xff\xfe", "😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%q → %s: %v", s, b, err)
		}
		if want := strings.ToValidUTF8(s, "\ufffd"); utf8.ValidString(s) && back != want {
			t.Fatalf("%q → %s → %q", s, b, back)
		}
	})
}
