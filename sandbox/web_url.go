package sandbox

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/dop251/goja"
	whatwg "github.com/nlnwa/whatwg-url/url"
)

// URL and URLSearchParams, as the WHATWG URL standard defines them: parsing
// (relative resolution, IDNA, IPv4/IPv6 hosts, percent-encoding) is
// github.com/nlnwa/whatwg-url's; the query list and its
// application/x-www-form-urlencoded parsing and serialisation are here,
// following the standard (the library replaces "+" after percent-decoding,
// which turns "%2B" into a space).

// maxURLLength bounds the URLs the isolate parses; longer input is
// refused like an invalid URL rather than parsed at length.
const maxURLLength = 1 << 20

type urlObject struct {
	u      *whatwg.Url
	params *goja.Object // the searchParams object, once asked for
}

type searchParams struct {
	list []nameValue
	url  *urlObject // the URL whose query this list is, or nil
}

type nameValue struct{ name, value string }

func (r *runner) parseURL(raw string, base *string) (*whatwg.Url, bool) {
	if len(raw) > maxURLLength || (base != nil && len(*base) > maxURLLength) {
		return nil, false
	}
	if base == nil {
		u, err := whatwg.Parse(raw)
		return u, err == nil
	}
	b, err := whatwg.Parse(*base)
	if err != nil {
		return nil, false
	}
	u, err := b.Parse(raw)
	return u, err == nil
}

func (r *runner) urlArgs(args []goja.Value) (string, *string) {
	raw := r.toUSVString(argument(args, 0))
	var base *string
	if v := argument(args, 1); !goja.IsUndefined(v) {
		b := r.toUSVString(v)
		base = &b
	}
	return raw, base
}

func (r *runner) urlClass() goja.Value {
	r.global("URLSearchParams")
	c := r.newClass("URL", 1, func(call goja.ConstructorCall) *goja.Object {
		if len(call.Arguments) == 0 {
			panic(r.rt.NewTypeError("URL: 1 argument required"))
		}
		raw, base := r.urlArgs(call.Arguments)
		u, ok := r.parseURL(raw, base)
		if !ok {
			msg := "Invalid URL: " + quoteJS(raw)
			if base != nil {
				msg += " (against the base " + quoteJS(*base) + ")"
			}
			panic(r.rt.NewTypeError(msg))
		}
		r.urls[call.This] = &urlObject{u: u}
		return nil
	})
	r.urlProto = c.proto
	get := func(this goja.Value, what string) *urlObject {
		o, _ := this.(*goja.Object)
		u := r.urls[o]
		if u == nil {
			panic(r.illegal(what))
		}
		return u
	}
	str := func(name string, read func(*whatwg.Url) string, write func(*urlObject, string)) {
		var set func(goja.FunctionCall) goja.Value
		if write != nil {
			set = func(call goja.FunctionCall) goja.Value {
				u := get(call.This, "URL."+name)
				v := r.toUSVString(argument(call.Arguments, 0))
				if len(v) > maxURLLength {
					panic(r.rt.NewTypeError("URL.%s: the value is too long", name))
				}
				write(u, v)
				r.syncParams(u)
				return goja.Undefined()
			}
		}
		c.accessor(name, func(call goja.FunctionCall) goja.Value {
			return r.rt.ToValue(read(get(call.This, "URL."+name).u))
		}, set)
	}
	str("href", func(u *whatwg.Url) string { return u.Href(false) }, func(u *urlObject, v string) {
		nu, ok := r.parseURL(v, nil)
		if !ok {
			panic(r.rt.NewTypeError("Invalid URL: " + quoteJS(v)))
		}
		u.u = nu
	})
	str("origin", urlOrigin, nil)
	str("protocol", (*whatwg.Url).Protocol, func(u *urlObject, v string) { u.u.SetProtocol(v) })
	str("username", (*whatwg.Url).Username, func(u *urlObject, v string) { u.u.SetUsername(v) })
	str("password", (*whatwg.Url).Password, func(u *urlObject, v string) { u.u.SetPassword(v) })
	str("host", (*whatwg.Url).Host, func(u *urlObject, v string) { u.u.SetHost(v) })
	str("hostname", (*whatwg.Url).Hostname, func(u *urlObject, v string) { u.u.SetHostname(v) })
	str("port", (*whatwg.Url).Port, func(u *urlObject, v string) { u.u.SetPort(v) })
	str("pathname", (*whatwg.Url).Pathname, func(u *urlObject, v string) { u.u.SetPathname(v) })
	str("search", (*whatwg.Url).Search, func(u *urlObject, v string) { u.u.SetSearch(v) })
	str("hash", (*whatwg.Url).Hash, func(u *urlObject, v string) { u.u.SetHash(v) })
	c.accessor("searchParams", func(call goja.FunctionCall) goja.Value {
		u := get(call.This, "URL.searchParams")
		if u.params == nil {
			sp := &searchParams{url: u, list: parseURLEncoded(u.u.Query())}
			u.params = r.newSearchParams(sp)
		}
		return u.params
	}, nil)
	href := func(call goja.FunctionCall) goja.Value {
		return r.rt.ToValue(get(call.This, "URL.toString").u.Href(false))
	}
	c.method("toString", 0, href)
	c.method("toJSON", 0, href)
	c.static("canParse", 1, func(call goja.FunctionCall) goja.Value {
		raw, base := r.urlArgs(call.Arguments)
		_, ok := r.parseURL(raw, base)
		return r.rt.ToValue(ok)
	})
	c.static("parse", 1, func(call goja.FunctionCall) goja.Value {
		raw, base := r.urlArgs(call.Arguments)
		u, ok := r.parseURL(raw, base)
		if !ok {
			return goja.Null()
		}
		o := c.instance()
		r.urls[o] = &urlObject{u: u}
		return o
	})
	return c.ctor
}

// syncParams refreshes a URL's searchParams list after its query changed.
func (r *runner) syncParams(u *urlObject) {
	if u.params == nil {
		return
	}
	if sp := r.params[u.params]; sp != nil {
		sp.list = parseURLEncoded(u.u.Query())
	}
}

// urlOrigin is the ASCII serialisation of the URL's origin.
func urlOrigin(u *whatwg.Url) string {
	switch u.Scheme() {
	case "http", "https", "ws", "wss", "ftp":
		return u.Protocol() + "//" + u.Host()
	case "blob":
		if inner, err := whatwg.Parse(u.Pathname()); err == nil && (inner.Scheme() == "http" || inner.Scheme() == "https") {
			return urlOrigin(inner)
		}
	}
	return "null"
}

func (r *runner) newSearchParams(sp *searchParams) *goja.Object {
	o := r.rt.CreateObject(r.paramsProto)
	r.params[o] = sp
	return o
}

func (r *runner) searchParamsClass() goja.Value {
	c := r.newClass("URLSearchParams", 0, func(call goja.ConstructorCall) *goja.Object {
		sp := &searchParams{}
		r.params[call.This] = sp
		init := argument(call.Arguments, 0)
		if isNullish(init) {
			return nil
		}
		if o, ok := init.(*goja.Object); ok {
			if goja.IsUndefined(o.GetSymbol(goja.SymIterator)) || o.GetSymbol(goja.SymIterator) == nil {
				for _, k := range o.Keys() {
					sp.list = append(sp.list, nameValue{k, r.toUSVString(o.Get(k))})
				}
				return nil
			}
			if other := r.params[o]; other != nil {
				sp.list = slices.Clone(other.list)
				return nil
			}
			r.iterate(o, "URLSearchParams", func(pair goja.Value) {
				var items []string
				r.iterate(pair, "URLSearchParams", func(v goja.Value) { items = append(items, r.toUSVString(v)) })
				if len(items) != 2 {
					panic(r.rt.NewTypeError("URLSearchParams: each pair must have exactly two items, a name and a value"))
				}
				sp.list = append(sp.list, nameValue{items[0], items[1]})
			})
			return nil
		}
		s := r.toUSVString(init)
		sp.list = parseURLEncoded(strings.TrimPrefix(s, "?"))
		return nil
	})
	r.paramsProto = c.proto
	get := func(this goja.Value, what string) *searchParams {
		o, _ := this.(*goja.Object)
		sp := r.params[o]
		if sp == nil {
			panic(r.illegal(what))
		}
		return sp
	}
	update := func(sp *searchParams) {
		if sp.url == nil {
			return
		}
		q := serializeURLEncoded(sp.list)
		if q == "" {
			sp.url.u.SetSearch("")
		} else {
			sp.url.u.SetSearch("?" + q)
		}
	}
	name := func(call goja.FunctionCall, i int) string { return r.toUSVString(argument(call.Arguments, i)) }
	c.method("append", 2, func(call goja.FunctionCall) goja.Value {
		sp := get(call.This, "URLSearchParams.append")
		sp.list = append(sp.list, nameValue{name(call, 0), name(call, 1)})
		update(sp)
		return goja.Undefined()
	})
	c.method("delete", 1, func(call goja.FunctionCall) goja.Value {
		sp := get(call.This, "URLSearchParams.delete")
		n := name(call, 0)
		withValue := !goja.IsUndefined(argument(call.Arguments, 1))
		v := ""
		if withValue {
			v = name(call, 1)
		}
		sp.list = slices.DeleteFunc(sp.list, func(p nameValue) bool { return p.name == n && (!withValue || p.value == v) })
		update(sp)
		return goja.Undefined()
	})
	c.method("get", 1, func(call goja.FunctionCall) goja.Value {
		sp := get(call.This, "URLSearchParams.get")
		n := name(call, 0)
		for _, p := range sp.list {
			if p.name == n {
				return r.rt.ToValue(p.value)
			}
		}
		return goja.Null()
	})
	c.method("getAll", 1, func(call goja.FunctionCall) goja.Value {
		sp := get(call.This, "URLSearchParams.getAll")
		n := name(call, 0)
		out := []any{}
		for _, p := range sp.list {
			if p.name == n {
				out = append(out, p.value)
			}
		}
		return r.rt.NewArray(out...)
	})
	c.method("has", 1, func(call goja.FunctionCall) goja.Value {
		sp := get(call.This, "URLSearchParams.has")
		n := name(call, 0)
		withValue := !goja.IsUndefined(argument(call.Arguments, 1))
		v := ""
		if withValue {
			v = name(call, 1)
		}
		return r.rt.ToValue(slices.ContainsFunc(sp.list, func(p nameValue) bool { return p.name == n && (!withValue || p.value == v) }))
	})
	c.method("set", 2, func(call goja.FunctionCall) goja.Value {
		sp := get(call.This, "URLSearchParams.set")
		n, v := name(call, 0), name(call, 1)
		i := slices.IndexFunc(sp.list, func(p nameValue) bool { return p.name == n })
		if i < 0 {
			sp.list = append(sp.list, nameValue{n, v})
		} else {
			sp.list[i].value = v
			rest := slices.DeleteFunc(sp.list[i+1:], func(p nameValue) bool { return p.name == n })
			sp.list = sp.list[:i+1+len(rest)]
		}
		update(sp)
		return goja.Undefined()
	})
	c.method("sort", 0, func(call goja.FunctionCall) goja.Value {
		sp := get(call.This, "URLSearchParams.sort")
		// By UTF-16 code units, as the standard says (not by code points).
		slices.SortStableFunc(sp.list, func(a, b nameValue) int {
			return slices.Compare(utf16.Encode([]rune(a.name)), utf16.Encode([]rune(b.name)))
		})
		update(sp)
		return goja.Undefined()
	})
	c.method("toString", 0, func(call goja.FunctionCall) goja.Value {
		return r.rt.ToValue(serializeURLEncoded(get(call.This, "URLSearchParams.toString").list))
	})
	c.accessor("size", func(call goja.FunctionCall) goja.Value {
		return r.rt.ToValue(len(get(call.This, "URLSearchParams.size").list))
	}, nil)
	c.method("forEach", 1, func(call goja.FunctionCall) goja.Value {
		sp := get(call.This, "URLSearchParams.forEach")
		fn, ok := goja.AssertFunction(argument(call.Arguments, 0))
		if !ok {
			panic(r.rt.NewTypeError("URLSearchParams.forEach: the callback must be a function"))
		}
		for i := 0; i < len(sp.list); i++ {
			p := sp.list[i]
			if _, err := fn(argument(call.Arguments, 1), r.rt.ToValue(p.value), r.rt.ToValue(p.name), call.This); err != nil {
				panic(err)
			}
		}
		return goja.Undefined()
	})
	iter := func(what string, item func(nameValue) goja.Value) func(goja.FunctionCall) goja.Value {
		return func(call goja.FunctionCall) goja.Value {
			sp := get(call.This, what)
			items := make([]goja.Value, len(sp.list))
			for i, p := range sp.list {
				items[i] = item(p)
			}
			return r.arrayIterator(items)
		}
	}
	entries := iter("URLSearchParams.entries", func(p nameValue) goja.Value { return r.rt.NewArray(p.name, p.value) })
	c.method("entries", 0, entries)
	c.method("keys", 0, iter("URLSearchParams.keys", func(p nameValue) goja.Value { return r.rt.ToValue(p.name) }))
	c.method("values", 0, iter("URLSearchParams.values", func(p nameValue) goja.Value { return r.rt.ToValue(p.value) }))
	_ = c.proto.DefineDataPropertySymbol(goja.SymIterator, c.proto.Get("entries"), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	return c.ctor
}

// arrayIterator iterates over a snapshot of items.
func (r *runner) arrayIterator(items []goja.Value) goja.Value {
	arr := r.rt.NewArray()
	for i, v := range items {
		_ = arr.Set(strconv.Itoa(i), v)
	}
	fn, ok := goja.AssertFunction(arr.GetSymbol(goja.SymIterator))
	if !ok {
		panic(r.rt.NewTypeError("Array.prototype[Symbol.iterator] was replaced"))
	}
	it, err := fn(arr)
	if err != nil {
		panic(err)
	}
	return it
}

// parseURLEncoded is the application/x-www-form-urlencoded parser.
func parseURLEncoded(s string) []nameValue {
	var out []nameValue
	for _, seq := range strings.Split(s, "&") {
		if seq == "" {
			continue
		}
		n, v, _ := strings.Cut(seq, "=")
		out = append(out, nameValue{formDecode(n), formDecode(v)})
	}
	return out
}

func formDecode(s string) string {
	s = strings.ReplaceAll(s, "+", " ")
	if !strings.Contains(s, "%") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	out, _, _ := decodeUTF8(b, false)
	return out
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// serializeURLEncoded is the application/x-www-form-urlencoded serialiser.
func serializeURLEncoded(list []nameValue) string {
	var b strings.Builder
	for i, p := range list {
		if i > 0 {
			b.WriteByte('&')
		}
		formEncode(&b, p.name)
		b.WriteByte('=')
		formEncode(&b, p.value)
	}
	return b.String()
}

func formEncode(b *strings.Builder, s string) {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ':
			b.WriteByte('+')
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '*' || c == '-' || c == '.' || c == '_':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
}
