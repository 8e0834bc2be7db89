package sandbox

import (
	"slices"

	"github.com/dop251/goja"
)

// structuredClone copies what the HTML standard's structured clone copies
// within one isolate: primitives, plain objects and arrays, Date, RegExp,
// Map, Set, ArrayBuffer, typed arrays, Boolean/Number/String objects and
// errors, keeping shared references and cycles; functions, symbols and
// other host objects throw a DataCloneError.

// maxCloneDepth bounds the nesting structuredClone follows (the copy
// recurses on the Go stack).
const maxCloneDepth = 2000

// cloneCheckEvery is how many values a clone copies between two checks of
// the watchdog (the copy is Go code the interrupt does not stop).
const cloneCheckEvery = 4096

type cloner struct {
	r      *runner
	memory map[*goja.Object]*goja.Object
	count  int
}

func (r *runner) structuredCloneFunc() goja.Value {
	return r.function("structuredClone", 1, func(call goja.FunctionCall) goja.Value {
		if len(call.Arguments) == 0 {
			panic(r.rt.NewTypeError("structuredClone: 1 argument required"))
		}
		c := &cloner{r: r, memory: map[*goja.Object]*goja.Object{}}
		return c.clone(call.Arguments[0], 0)
	})
}

func (c *cloner) fail(what string) {
	panic(c.r.domException("DataCloneError", "structuredClone: "+what+" could not be cloned"))
}

func (c *cloner) ctor(name string) *goja.Object {
	o, ok := c.r.rt.Get(name).(*goja.Object)
	if !ok {
		c.fail(name)
	}
	return o
}

func (c *cloner) construct(name string, args ...goja.Value) *goja.Object {
	o, err := c.r.rt.New(c.ctor(name), args...)
	if err != nil {
		panic(err)
	}
	return o
}

func (c *cloner) clone(v goja.Value, depth int) goja.Value {
	if c.count++; c.count%cloneCheckEvery == 0 {
		c.r.checkpoint()
	}
	if _, ok := v.(*goja.Symbol); ok {
		c.fail("a Symbol")
	}
	o, ok := v.(*goja.Object)
	if !ok {
		return v
	}
	if out, seen := c.memory[o]; seen {
		return out
	}
	if depth > maxCloneDepth {
		c.fail("a value nested this deep")
	}
	if _, isFn := goja.AssertFunction(o); isFn {
		c.fail("a function")
	}
	r := c.r
	switch t := o.ExportType(); {
	case t == arrayBufferType:
		b := o.Export().(goja.ArrayBuffer).Bytes()
		r.charge(len(b))
		out := r.arrayBuffer(slices.Clone(b)).(*goja.Object)
		c.memory[o] = out
		return out
	case typedArrayTypes[t]:
		return c.typedArray(o)
	case t == timeType:
		out := c.construct("Date", r.rt.ToValue(o.ToNumber()))
		c.memory[o] = out
		return out
	case t == mapExportType:
		return c.mapClone(o, depth)
	case t == listExportType && o.ClassName() != "Array":
		return c.setClone(o, depth)
	}
	switch o.ClassName() {
	case "Array":
		out := r.rt.NewArray()
		c.memory[o] = out
		_ = out.Set("length", o.Get("length"))
		c.copyProps(o, out, depth)
		return out
	case "RegExp":
		out := c.construct("RegExp", o.Get("source"), o.Get("flags"))
		c.memory[o] = out
		return out
	case "Error":
		name := primitiveString(o.Get("name"))
		switch name {
		case "EvalError", "RangeError", "ReferenceError", "SyntaxError", "TypeError", "URIError":
		default:
			name = "Error"
		}
		out := c.construct(name, o.Get("message"))
		if st := o.Get("stack"); st != nil {
			_ = out.Set("stack", st)
		}
		c.memory[o] = out
		return out
	case "Boolean", "Number", "String":
		valueOf, ok := goja.AssertFunction(o.Get("valueOf"))
		if !ok {
			c.fail("a " + o.ClassName() + " object")
		}
		prim, err := valueOf(o)
		if err != nil {
			panic(err)
		}
		out := c.construct(o.ClassName(), prim)
		c.memory[o] = out
		return out
	case "Object":
		// An instance of a plugin's class is copied as a plain object, as
		// in browsers; platform objects (URL, Headers, AbortSignal…) and
		// promises are not cloneable.
		if o.ExportType() == promiseType || c.r.isWebObject(o) {
			c.fail("a platform object or a promise")
		}
		out := r.rt.NewObject()
		c.memory[o] = out
		c.copyProps(o, out, depth)
		return out
	}
	c.fail("a " + o.ClassName())
	return nil
}

func (c *cloner) mapClone(o *goja.Object, depth int) goja.Value {
	out := c.construct("Map")
	c.memory[o] = out
	set, _ := goja.AssertFunction(out.Get("set"))
	var pairs [][2]goja.Value
	c.r.iterate(o, "structuredClone", func(e goja.Value) {
		eo, _ := e.(*goja.Object)
		if eo == nil {
			c.fail("a Map entry")
		}
		pairs = append(pairs, [2]goja.Value{eo.Get("0"), eo.Get("1")})
	})
	for _, p := range pairs {
		if _, err := set(out, c.clone(p[0], depth+1), c.clone(p[1], depth+1)); err != nil {
			panic(err)
		}
	}
	return out
}

func (c *cloner) setClone(o *goja.Object, depth int) goja.Value {
	out := c.construct("Set")
	c.memory[o] = out
	add, _ := goja.AssertFunction(out.Get("add"))
	var items []goja.Value
	c.r.iterate(o, "structuredClone", func(e goja.Value) { items = append(items, e) })
	for _, it := range items {
		if _, err := add(out, c.clone(it, depth+1)); err != nil {
			panic(err)
		}
	}
	return out
}

func (c *cloner) copyProps(from, to *goja.Object, depth int) {
	for _, k := range from.Keys() {
		_ = to.Set(k, c.clone(from.Get(k), depth+1))
	}
}

func (c *cloner) typedArray(o *goja.Object) goja.Value {
	name := primitiveString(o.GetSymbol(goja.SymToStringTag))
	buf, _ := o.Get("buffer").(*goja.Object)
	if name == "" || buf == nil {
		c.fail("a typed array")
	}
	nb := c.clone(buf, 0)
	out := c.construct(name, nb, o.Get("byteOffset"), o.Get("length"))
	c.memory[o] = out
	return out
}
