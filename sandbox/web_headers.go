package sandbox

import (
	"slices"
	"strings"

	"github.com/dop251/goja"
)

// Headers, as the Fetch standard defines it: case-insensitive names, values
// of one name combined with ", " (Set-Cookie kept apart), iteration sorted by
// name. ctx.http.fetch's response.headers is one; init.headers may be one.

type headerList struct {
	list []nameValue // lower-case names, in insertion order
	// immutable headers (a response's) refuse changes.
	immutable bool
}

func (h *headerList) get(name string) (string, bool) {
	var vals []string
	for _, p := range h.list {
		if p.name == name {
			vals = append(vals, p.value)
		}
	}
	return strings.Join(vals, ", "), vals != nil
}

// sorted is the standard's "sort and combine".
func (h *headerList) sorted() []nameValue {
	var names []string
	for _, p := range h.list {
		if !slices.Contains(names, p.name) {
			names = append(names, p.name)
		}
	}
	slices.Sort(names)
	var out []nameValue
	for _, n := range names {
		if n == "set-cookie" {
			for _, p := range h.list {
				if p.name == n {
					out = append(out, p)
				}
			}
			continue
		}
		v, _ := h.get(n)
		out = append(out, nameValue{n, v})
	}
	return out
}

// checkHeader validates and normalises one header; it reports what is
// wrong, or "".
func checkHeader(name, value string) (string, string, string) {
	if !isHTTPToken(name) {
		return "", "", "invalid header name " + quoteJS(name)
	}
	value = strings.Trim(value, " \t\r\n")
	if strings.ContainsAny(value, "\x00\r\n") {
		return "", "", "invalid value for header " + quoteJS(name)
	}
	return strings.ToLower(name), value, ""
}

func isHTTPToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// headerPairs reads HeadersInit (a Headers object, an iterable of
// [name, value] pairs, or a record of names to values) into a list.
func (r *runner) headerPairs(init goja.Value, what string) []nameValue {
	var out []nameValue
	add := func(n, v string) {
		name, value, bad := checkHeader(n, v)
		if bad != "" {
			panic(r.rt.NewTypeError("%s: %s", what, bad))
		}
		out = append(out, nameValue{name, value})
	}
	o, ok := init.(*goja.Object)
	if isNullish(init) {
		return nil
	}
	if !ok {
		panic(r.rt.NewTypeError("%s: headers must be an object, an array of [name, value] pairs or a Headers", what))
	}
	if h := r.headerLists[o]; h != nil {
		return slices.Clone(h.list)
	}
	if it := o.GetSymbol(goja.SymIterator); it != nil && !goja.IsUndefined(it) {
		r.iterate(o, what, func(pair goja.Value) {
			var items []string
			r.iterate(pair, what, func(v goja.Value) { items = append(items, r.toDOMString(v)) })
			if len(items) != 2 {
				panic(r.rt.NewTypeError("%s: each header must be a [name, value] pair", what))
			}
			add(items[0], items[1])
		})
		return out
	}
	for _, k := range o.Keys() {
		add(k, r.toDOMString(o.Get(k)))
	}
	return out
}

func (r *runner) headersClass() goja.Value {
	c := r.newClass("Headers", 0, func(call goja.ConstructorCall) *goja.Object {
		r.headerLists[call.This] = &headerList{list: r.headerPairs(argument(call.Arguments, 0), "Headers")}
		return nil
	})
	r.headersProto = c.proto
	get := func(this goja.Value, what string) *headerList {
		o, _ := this.(*goja.Object)
		h := r.headerLists[o]
		if h == nil {
			panic(r.illegal(what))
		}
		return h
	}
	mutable := func(this goja.Value, what string) *headerList {
		h := get(this, what)
		if h.immutable {
			panic(r.rt.NewTypeError("%s: these headers are immutable", what))
		}
		return h
	}
	pair := func(call goja.FunctionCall, what string) (string, string) {
		name, value, bad := checkHeader(r.toDOMString(argument(call.Arguments, 0)), r.toDOMString(argument(call.Arguments, 1)))
		if bad != "" {
			panic(r.rt.NewTypeError("%s: %s", what, bad))
		}
		return name, value
	}
	lname := func(call goja.FunctionCall) string {
		return strings.ToLower(r.toDOMString(argument(call.Arguments, 0)))
	}
	c.method("append", 2, func(call goja.FunctionCall) goja.Value {
		h := mutable(call.This, "Headers.append")
		n, v := pair(call, "Headers.append")
		h.list = append(h.list, nameValue{n, v})
		return goja.Undefined()
	})
	c.method("set", 2, func(call goja.FunctionCall) goja.Value {
		h := mutable(call.This, "Headers.set")
		n, v := pair(call, "Headers.set")
		i := slices.IndexFunc(h.list, func(p nameValue) bool { return p.name == n })
		if i < 0 {
			h.list = append(h.list, nameValue{n, v})
			return goja.Undefined()
		}
		h.list[i].value = v
		rest := slices.DeleteFunc(h.list[i+1:], func(p nameValue) bool { return p.name == n })
		h.list = h.list[:i+1+len(rest)]
		return goja.Undefined()
	})
	c.method("delete", 1, func(call goja.FunctionCall) goja.Value {
		h := mutable(call.This, "Headers.delete")
		n := lname(call)
		h.list = slices.DeleteFunc(h.list, func(p nameValue) bool { return p.name == n })
		return goja.Undefined()
	})
	c.method("get", 1, func(call goja.FunctionCall) goja.Value {
		v, ok := get(call.This, "Headers.get").get(lname(call))
		if !ok {
			return goja.Null()
		}
		return r.rt.ToValue(v)
	})
	c.method("getSetCookie", 0, func(call goja.FunctionCall) goja.Value {
		var out []string
		for _, p := range get(call.This, "Headers.getSetCookie").list {
			if p.name == "set-cookie" {
				out = append(out, p.value)
			}
		}
		return r.stringArray(out)
	})
	c.method("has", 1, func(call goja.FunctionCall) goja.Value {
		_, ok := get(call.This, "Headers.has").get(lname(call))
		return r.rt.ToValue(ok)
	})
	c.method("forEach", 1, func(call goja.FunctionCall) goja.Value {
		h := get(call.This, "Headers.forEach")
		fn, ok := goja.AssertFunction(argument(call.Arguments, 0))
		if !ok {
			panic(r.rt.NewTypeError("Headers.forEach: the callback must be a function"))
		}
		for _, p := range h.sorted() {
			if _, err := fn(argument(call.Arguments, 1), r.rt.ToValue(p.value), r.rt.ToValue(p.name), call.This); err != nil {
				panic(err)
			}
		}
		return goja.Undefined()
	})
	iter := func(what string, item func(nameValue) goja.Value) func(goja.FunctionCall) goja.Value {
		return func(call goja.FunctionCall) goja.Value {
			sorted := get(call.This, what).sorted()
			items := make([]goja.Value, len(sorted))
			for i, p := range sorted {
				items[i] = item(p)
			}
			return r.arrayIterator(items)
		}
	}
	c.method("entries", 0, iter("Headers.entries", func(p nameValue) goja.Value { return r.rt.NewArray(p.name, p.value) }))
	c.method("keys", 0, iter("Headers.keys", func(p nameValue) goja.Value { return r.rt.ToValue(p.name) }))
	c.method("values", 0, iter("Headers.values", func(p nameValue) goja.Value { return r.rt.ToValue(p.value) }))
	_ = c.proto.DefineDataPropertySymbol(goja.SymIterator, c.proto.Get("entries"), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	return c.ctor
}

// newHeaders is a Headers object holding list (a response's: immutable).
func (r *runner) newHeaders(list []nameValue, immutable bool) *goja.Object {
	r.global("Headers")
	o := r.rt.CreateObject(r.headersProto)
	r.headerLists[o] = &headerList{list: list, immutable: immutable}
	return o
}
