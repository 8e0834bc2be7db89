package sandbox

import (
	"errors"
	"strings"
	"testing"

	"github.com/dop251/goja"
)

func TestCheckJSON(t *testing.T) {
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		name, in, wantErr string
	}{
		{name: "plain", in: `{"a":[1,2.5,-3e10,"x"],"b":null}`},
		{name: "at the depth limit", in: nest(MaxJSONDepth)},
		{name: "past the depth limit", in: nest(MaxJSONDepth + 1), wantErr: "nested deeper than 512 levels"},
		{name: "far past", in: nest(50000), wantErr: "nested deeper"},
		{name: "brackets in strings do not count", in: `"` + strings.Repeat("[", 5000) + `"`},
		{name: "escaped quote in a string", in: `["a\"[[[[", 1]`},
		{name: "overflow", in: `[1e400]`, wantErr: "out of range"},
		{name: "negative overflow", in: `{"x":-1.5e309}`, wantErr: "out of range"},
		{name: "long integer", in: "[" + strings.Repeat("9", 310) + "]", wantErr: "out of range"},
		{name: "underflow reads as zero", in: `[1e-400]`},
		{name: "max double", in: `[1.7976931348623157e308]`},
		{name: "invalid", in: `{"a":`, wantErr: "not valid JSON"},
		{name: "trailing garbage", in: `1 2`, wantErr: "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckJSON([]byte(tt.in))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				// What CheckJSON passes, the isolate's decoder takes.
				if _, err := decodeJSON(goja.New(), []byte(tt.in), MaxJSONDepth); err != nil {
					t.Fatalf("CheckJSON passed what the isolate refuses: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2]}`, `[1e400]`, `"\\"`, `[[[]]]`, `{"a":"[["}`, `-0.0e-5`} {
		f.Add([]byte(s))
	}
	rt := goja.New()
	f.Fuzz(func(t *testing.T, data []byte) {
		if CheckJSON(data) != nil {
			return
		}
		if _, err := decodeJSON(rt, data, MaxJSONDepth); err != nil {
			t.Fatalf("CheckJSON passed %q, the isolate refuses it: %v", data, err)
		}
	})
}

// BenchmarkCheckJSON is the server-side check of a typical content event
// (about 1 KiB), the cost every hook invocation now pays before dispatch.
func BenchmarkCheckJSON(b *testing.B) {
	ev := []byte(`{"collection":"articles","id":"0190a1b2-0000-7000-8000-000000000000","isNew":false,"data":{"title":"A title of some length","body":"` +
		strings.Repeat("Lorem ipsum dolor sit amet. ", 30) + `","reading_time":4,"tags":["a","b","c"],"meta":{"x":[1,2,3.5e10]}},"slug":"a-title","status":"draft","version":3}`)
	b.SetBytes(int64(len(ev)))
	for b.Loop() {
		if err := CheckJSON(ev); err != nil {
			b.Fatal(err)
		}
	}
}
