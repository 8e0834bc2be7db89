package sandbox

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"unicode/utf8"

	"github.com/dop251/goja"
)

// valueEncoder copies a JS value out of the isolate as JSON, with the
// semantics of JSON.stringify (toJSON, skipped undefined/functions/symbols,
// NaN → null) under a byte budget and a depth cap.
//
// Reading a property can run plugin code (getters, toJSON, Proxy traps), so
// an encoder must only run while the invocation's watchdog is armed and
// inside a goja call (runner.callGo), where a throw or an interrupt unwinds
// cleanly instead of panicking through the host.
type valueEncoder struct {
	rt       *goja.Runtime
	buf      []byte
	maxBytes int
	maxDepth int
	// limit names the LimitError reported when maxBytes is exceeded.
	limit string
	// ancestors detects cycles: objects currently being encoded.
	ancestors []*goja.Object
}

func newValueEncoder(rt *goja.Runtime, limit string, maxBytes, maxDepth int) *valueEncoder {
	return &valueEncoder{rt: rt, maxBytes: maxBytes, maxDepth: maxDepth, limit: limit}
}

// encode appends v's JSON to the buffer. ok is false when v is not
// serialisable at the top level (undefined, a function, a symbol).
func (e *valueEncoder) encode(v goja.Value) (ok bool, err error) {
	n := len(e.buf)
	ok, err = e.value(v, "", 0)
	if err != nil || !ok {
		e.buf = e.buf[:n]
	}
	return ok, err
}

func (e *valueEncoder) overflow() error {
	if len(e.buf) > e.maxBytes {
		return bytesLimit(e.limit, e.maxBytes)
	}
	return nil
}

// value encodes v, reached under key; it reports false for values JSON
// skips (undefined, functions, symbols).
func (e *valueEncoder) value(v goja.Value, key string, depth int) (bool, error) {
	if o, ok := v.(*goja.Object); ok {
		if tj, ok := goja.AssertFunction(o.Get("toJSON")); ok {
			r, err := tj(o, e.rt.ToValue(key))
			if err != nil {
				return false, err
			}
			v = r
		}
	}
	return e.resolved(v, depth)
}

func (e *valueEncoder) resolved(v goja.Value, depth int) (bool, error) {
	switch {
	case v == nil || goja.IsUndefined(v):
		return false, nil
	case goja.IsNull(v):
		e.buf = append(e.buf, "null"...)
		return true, e.overflow()
	}
	if _, ok := v.(*goja.Symbol); ok {
		return false, nil
	}
	o, isObj := v.(*goja.Object)
	if !isObj {
		return true, e.primitive(v.Export())
	}
	if _, ok := goja.AssertFunction(o); ok {
		return false, nil
	}
	switch o.ClassName() {
	case "Number":
		return true, e.primitive(v.ToFloat())
	case "String":
		return true, e.primitive(v.String())
	case "Boolean":
		b, _ := o.Export().(bool)
		return true, e.primitive(b)
	}
	if depth >= e.maxDepth {
		return false, fmt.Errorf("%w: nested deeper than %d levels", ErrBadValue, e.maxDepth)
	}
	for _, a := range e.ancestors {
		if a == o {
			return false, fmt.Errorf("%w: cyclic value", ErrBadValue)
		}
	}
	e.ancestors = append(e.ancestors, o)
	defer func() { e.ancestors = e.ancestors[:len(e.ancestors)-1] }()
	if o.ClassName() == "Array" {
		return true, e.array(o, depth)
	}
	return true, e.object(o, depth)
}

func (e *valueEncoder) array(o *goja.Object, depth int) error {
	n := o.Get("length").ToInteger()
	// Every element costs at least one byte: refuse a huge (sparse) array
	// before iterating over it.
	if n < 0 || n > int64(e.maxBytes-len(e.buf)) {
		return bytesLimit(e.limit, e.maxBytes)
	}
	e.buf = append(e.buf, '[')
	for i := int64(0); i < n; i++ {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		k := strconv.FormatInt(i, 10)
		ok, err := e.value(o.Get(k), k, depth+1)
		if err != nil {
			return err
		}
		if !ok {
			e.buf = append(e.buf, "null"...)
		}
		if err := e.overflow(); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, ']')
	return e.overflow()
}

func (e *valueEncoder) object(o *goja.Object, depth int) error {
	e.buf = append(e.buf, '{')
	first := true
	for _, k := range o.Keys() {
		mark := len(e.buf)
		if !first {
			e.buf = append(e.buf, ',')
		}
		e.buf = appendJSONString(e.buf, k)
		e.buf = append(e.buf, ':')
		ok, err := e.value(o.Get(k), k, depth+1)
		if err != nil {
			return err
		}
		if !ok {
			e.buf = e.buf[:mark]
			continue
		}
		first = false
		if err := e.overflow(); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '}')
	return e.overflow()
}

func (e *valueEncoder) primitive(x any) error {
	switch x := x.(type) {
	case bool:
		e.buf = strconv.AppendBool(e.buf, x)
	case int64:
		e.buf = strconv.AppendInt(e.buf, x, 10)
	case float64:
		e.buf = appendJSONNumber(e.buf, x)
	case string:
		if len(x) > e.maxBytes-len(e.buf) {
			return bytesLimit(e.limit, e.maxBytes)
		}
		e.buf = appendJSONString(e.buf, x)
	case *big.Int:
		return fmt.Errorf("%w: BigInt", ErrBadValue)
	default:
		return fmt.Errorf("%w: %T", ErrBadValue, x)
	}
	return e.overflow()
}

// appendJSONNumber formats like JSON.stringify: non-finite numbers are null,
// integral values print without exponent below 1e21.
func appendJSONNumber(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return append(b, "null"...)
	case f == 0:
		return append(b, '0')
	case f == math.Trunc(f) && math.Abs(f) < 1e21:
		return strconv.AppendFloat(b, f, 'f', -1, 64)
	default:
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	}
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as a JSON string; invalid UTF-8 becomes U+FFFD so
// the output is always valid JSON.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028/2029 are valid JSON but break JS source embedding.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
