package sandbox

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"

	"github.com/dop251/goja"
)

// TextEncoder, TextDecoder (UTF-8, as the Encoding standard defines it:
// BOM handling, "fatal", replacement of each maximal invalid subsequence
// with U+FFFD, and streaming), atob and btoa (forgiving base64).

func (r *runner) textEncoderClass() goja.Value {
	c := r.newClass("TextEncoder", 0, func(call goja.ConstructorCall) *goja.Object {
		r.encoders[call.This] = true
		return nil
	})
	c.accessor("encoding", func(call goja.FunctionCall) goja.Value {
		r.mustEncoder(call.This, "TextEncoder.encoding")
		return r.rt.ToValue("utf-8")
	}, nil)
	c.method("encode", 0, func(call goja.FunctionCall) goja.Value {
		r.mustEncoder(call.This, "TextEncoder.encode")
		in := argument(call.Arguments, 0)
		s := ""
		if !goja.IsUndefined(in) {
			s = r.toUSVString(in)
		}
		r.charge(len(s))
		return r.uint8Array([]byte(s))
	})
	c.method("encodeInto", 2, func(call goja.FunctionCall) goja.Value {
		r.mustEncoder(call.This, "TextEncoder.encodeInto")
		s := r.toUSVString(argument(call.Arguments, 0))
		dst, ok := argument(call.Arguments, 1).Export().([]byte)
		if !ok {
			panic(r.rt.NewTypeError("TextEncoder.encodeInto: the destination must be a Uint8Array"))
		}
		read, written := 0, 0
		for _, c := range s {
			n := utf8.RuneLen(c)
			if written+n > len(dst) {
				break
			}
			utf8.EncodeRune(dst[written:], c)
			written += n
			read++
			if c >= 0x10000 {
				read++ // two UTF-16 code units
			}
		}
		out := r.rt.NewObject()
		_ = out.Set("read", read)
		_ = out.Set("written", written)
		return out
	})
	return c.ctor
}

func (r *runner) mustEncoder(this goja.Value, what string) {
	if o, ok := this.(*goja.Object); !ok || !r.encoders[o] {
		panic(r.illegal(what))
	}
}

// textDecoder is the state of one TextDecoder.
type textDecoder struct {
	fatal, ignoreBOM bool
	// pending holds the bytes of an incomplete sequence at the end of a
	// streamed chunk; bomSeen is set once the stream's start was handled.
	pending []byte
	bomSeen bool
}

func (r *runner) textDecoderClass() goja.Value {
	c := r.newClass("TextDecoder", 0, func(call goja.ConstructorCall) *goja.Object {
		label := "utf-8"
		if v := argument(call.Arguments, 0); !goja.IsUndefined(v) {
			label = r.toDOMString(v)
		}
		if !isUTF8Label(label) {
			panic(r.newNamedError("RangeError", "TextDecoder: the encoding label "+quoteJS(label)+" is not supported (only utf-8 is)"))
		}
		d := &textDecoder{}
		if o, ok := argument(call.Arguments, 1).(*goja.Object); ok {
			d.fatal = o.Get("fatal") != nil && o.Get("fatal").ToBoolean()
			d.ignoreBOM = o.Get("ignoreBOM") != nil && o.Get("ignoreBOM").ToBoolean()
		}
		r.decoders[call.This] = d
		return nil
	})
	get := func(this goja.Value, what string) *textDecoder {
		o, _ := this.(*goja.Object)
		d := r.decoders[o]
		if d == nil {
			panic(r.illegal(what))
		}
		return d
	}
	c.accessor("encoding", func(call goja.FunctionCall) goja.Value {
		get(call.This, "TextDecoder.encoding")
		return r.rt.ToValue("utf-8")
	}, nil)
	c.accessor("fatal", func(call goja.FunctionCall) goja.Value {
		return r.rt.ToValue(get(call.This, "TextDecoder.fatal").fatal)
	}, nil)
	c.accessor("ignoreBOM", func(call goja.FunctionCall) goja.Value {
		return r.rt.ToValue(get(call.This, "TextDecoder.ignoreBOM").ignoreBOM)
	}, nil)
	c.method("decode", 0, func(call goja.FunctionCall) goja.Value {
		d := get(call.This, "TextDecoder.decode")
		var in []byte
		if v := argument(call.Arguments, 0); !isNullish(v) {
			b, ok := r.bufferBytes(v)
			if !ok {
				panic(r.rt.NewTypeError("TextDecoder.decode: the input must be an ArrayBuffer, a typed array or a DataView"))
			}
			in = b
		}
		stream := false
		if o, ok := argument(call.Arguments, 1).(*goja.Object); ok {
			stream = o.Get("stream") != nil && o.Get("stream").ToBoolean()
		}
		r.charge(3 * (len(in) + len(d.pending)))
		if len(d.pending) > 0 {
			in = append(d.pending, in...)
			d.pending = nil
		}
		if !d.bomSeen && !d.ignoreBOM {
			if len(in) < 3 && stream && strings.HasPrefix("\xEF\xBB\xBF", string(in)) {
				d.pending = append([]byte(nil), in...)
				return r.rt.ToValue("")
			}
			in = []byte(strings.TrimPrefix(string(in), "\xEF\xBB\xBF"))
		}
		d.bomSeen = len(in) > 0 || d.bomSeen
		out, rest, bad := decodeUTF8(in, stream)
		if bad && d.fatal {
			d.bomSeen = false
			panic(r.rt.NewTypeError("TextDecoder.decode: the data is not valid UTF-8"))
		}
		if stream {
			d.pending = append([]byte(nil), rest...)
		} else {
			d.bomSeen = false // the next decode starts a new stream
		}
		return r.rt.ToValue(out)
	})
	return c.ctor
}

// isUTF8Label reports whether label names UTF-8 (Encoding standard §4.2,
// after trimming ASCII whitespace, case-insensitively).
func isUTF8Label(label string) bool {
	switch strings.ToLower(strings.Trim(label, "\t\n\f\r ")) {
	case "unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "utf-8", "utf8", "x-unicode20utf8":
		return true
	}
	return false
}

// decodeUTF8 is the Encoding standard's UTF-8 decoder: every maximal
// subpart of an invalid sequence becomes one U+FFFD. With stream, an
// incomplete sequence at the end is returned in rest instead. bad reports
// whether any replacement happened.
func decodeUTF8(in []byte, stream bool) (out string, rest []byte, bad bool) {
	if utf8.Valid(in) {
		return string(in), nil, false
	}
	var b strings.Builder
	b.Grow(len(in))
	for i := 0; i < len(in); {
		c := in[i]
		if c < 0x80 {
			b.WriteByte(c)
			i++
			continue
		}
		need, lower, upper := 0, byte(0x80), byte(0xBF)
		switch {
		case c >= 0xC2 && c <= 0xDF:
			need = 1
		case c >= 0xE0 && c <= 0xEF:
			need = 2
			if c == 0xE0 {
				lower = 0xA0
			} else if c == 0xED {
				upper = 0x9F
			}
		case c >= 0xF0 && c <= 0xF4:
			need = 3
			if c == 0xF0 {
				lower = 0x90
			} else if c == 0xF4 {
				upper = 0x8F
			}
		default:
			b.WriteRune(utf8.RuneError)
			bad = true
			i++
			continue
		}
		j := i + 1
		for seen := 0; seen < need; seen++ {
			if j >= len(in) {
				if stream {
					return b.String(), in[i:], bad
				}
				break
			}
			if in[j] < lower || in[j] > upper {
				break
			}
			lower, upper = 0x80, 0xBF
			j++
		}
		if j-i == need+1 {
			b.Write(in[i:j])
		} else {
			b.WriteRune(utf8.RuneError)
			bad = true
		}
		i = j
	}
	return b.String(), nil, bad
}

func (r *runner) btoaFunc() goja.Value {
	return r.function("btoa", 1, func(call goja.FunctionCall) goja.Value {
		if len(call.Arguments) == 0 {
			panic(r.rt.NewTypeError("btoa: 1 argument required"))
		}
		s := r.toDOMString(call.Arguments[0])
		bin := make([]byte, 0, len(s))
		for _, c := range s {
			if c > 0xFF {
				panic(r.domException("InvalidCharacterError", "btoa: the string contains characters outside of the Latin1 range"))
			}
			bin = append(bin, byte(c))
		}
		r.charge(base64.StdEncoding.EncodedLen(len(bin)))
		return r.rt.ToValue(base64.StdEncoding.EncodeToString(bin))
	})
}

func (r *runner) atobFunc() goja.Value {
	return r.function("atob", 1, func(call goja.FunctionCall) goja.Value {
		if len(call.Arguments) == 0 {
			panic(r.rt.NewTypeError("atob: 1 argument required"))
		}
		b, ok := forgivingBase64(r.toDOMString(call.Arguments[0]))
		if !ok {
			panic(r.domException("InvalidCharacterError", "atob: the string is not correctly base64-encoded"))
		}
		r.charge(2 * len(b))
		var out strings.Builder
		out.Grow(2 * len(b))
		for _, c := range b {
			out.WriteRune(rune(c))
		}
		return r.rt.ToValue(out.String())
	})
}

// forgivingBase64 is the Infra standard's forgiving-base64 decode.
func forgivingBase64(s string) ([]byte, bool) {
	s = strings.Map(func(c rune) rune {
		if c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' ' {
			return -1
		}
		return c
	}, s)
	if len(s)%4 == 0 {
		s = strings.TrimSuffix(s, "=")
		s = strings.TrimSuffix(s, "=")
	}
	if len(s)%4 == 1 {
		return nil, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/') {
			return nil, false
		}
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	return b, err == nil
}
