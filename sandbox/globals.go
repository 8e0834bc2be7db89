package sandbox

import (
	"reflect"
	"time"
	"unsafe"

	"github.com/dop251/goja"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

// The web platform globals of manifest.Globals (URL, TextEncoder, crypto,
// timers, …), implemented in Go inside the worker: pure functions of their
// arguments (crypto's randomness aside), running on the isolate's thread so
// their CPU time is the invocation's, allocating on the heap the watchdog
// measures, and checking the memory limit before any allocation sized by
// plugin input.
//
// They are built on first touch: the global object's prototype is a lazy
// object (lazyGlobals) that answers a global's name by building it and
// defining it on the global object itself, so a hook that uses none of them
// pays one small object per invocation, not dozens of functions.

// globalImpls build each global; a test keeps the keys equal to
// manifest.Globals. (Set in init: the builders reach each other through
// runner.global.)
var globalImpls map[string]func(*runner) goja.Value

func init() {
	globalImpls = map[string]func(*runner) goja.Value{
		"URL":             (*runner).urlClass,
		"URLSearchParams": (*runner).searchParamsClass,
		"TextEncoder":     (*runner).textEncoderClass,
		"TextDecoder":     (*runner).textDecoderClass,
		"atob":            (*runner).atobFunc,
		"btoa":            (*runner).btoaFunc,
		"structuredClone": (*runner).structuredCloneFunc,
		"queueMicrotask":  (*runner).queueMicrotaskFunc,
		"crypto":          (*runner).cryptoObject,
		"setTimeout":      func(r *runner) goja.Value { return r.timerFunc("setTimeout", false) },
		"setInterval":     func(r *runner) goja.Value { return r.timerFunc("setInterval", true) },
		"clearTimeout":    func(r *runner) goja.Value { return r.clearTimerFunc("clearTimeout") },
		"clearInterval":   func(r *runner) goja.Value { return r.clearTimerFunc("clearInterval") },
		"AbortController": (*runner).abortControllerClass,
		"AbortSignal":     (*runner).abortSignalClass,
		"DOMException":    (*runner).domExceptionClass,
		"Headers":         (*runner).headersClass,
	}
}

var globalNames = func() map[string]bool {
	m := map[string]bool{}
	for _, g := range manifest.Globals() {
		m[g.Name] = true
	}
	return m
}()

// lazyGlobals is the prototype of an isolate's global object. A lookup of a
// name the global object lacks reaches it; for a web global not yet built
// (or deleted) it builds the value and defines it on the global object,
// where later lookups find it directly.
type lazyGlobals struct {
	r *runner
	// done holds the globals built, assigned or deleted: the global
	// object's own property (or its absence) is what counts for them now.
	done map[string]bool
}

func (g *lazyGlobals) Has(key string) bool { return globalNames[key] && !g.done[key] }

func (g *lazyGlobals) mark(key string) {
	if g.done == nil {
		g.done = map[string]bool{}
	}
	g.done[key] = true
}

func (g *lazyGlobals) Get(key string) goja.Value {
	if !g.Has(key) {
		return nil
	}
	g.mark(key)
	v := g.r.global(key)
	_ = g.r.rt.GlobalObject().DefineDataProperty(key, v, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	return v
}

func (g *lazyGlobals) Set(key string, v goja.Value) bool {
	g.mark(key)
	return g.r.rt.GlobalObject().DefineDataProperty(key, v, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE) == nil
}

func (g *lazyGlobals) Delete(key string) bool {
	g.mark(key)
	return true
}

func (g *lazyGlobals) Keys() []string { return nil }

// installGlobals makes the web globals reachable; nothing is built yet.
func (r *runner) installGlobals() {
	lazy := r.rt.NewDynamicObject(&lazyGlobals{r: r})
	r.rt.GlobalObject().SetPrototype(lazy)
}

// global builds one web global (once per invocation: the lazy object and
// the cache below see to it, even for globals other globals use).
func (r *runner) global(name string) goja.Value {
	if v, ok := r.web[name]; ok {
		return v
	}
	if r.web == nil {
		r.web = map[string]goja.Value{}
	}
	r.initState(name)
	v := globalImpls[name](r)
	r.web[name] = v
	return v
}

// webState is the state of the web objects of one invocation, by object.
type webState struct {
	encoders    map[*goja.Object]bool
	decoders    map[*goja.Object]*textDecoder
	signals     map[*goja.Object]*abortSignal
	controllers map[*goja.Object]*abortSignal
	urls        map[*goja.Object]*urlObject
	params      map[*goja.Object]*searchParams
	headerLists map[*goja.Object]*headerList
	keys        map[*goja.Object]*cryptoKey
}

func (r *runner) initState(name string) {
	w := &r.webState
	switch name {
	case "TextEncoder":
		w.encoders = map[*goja.Object]bool{}
	case "TextDecoder":
		w.decoders = map[*goja.Object]*textDecoder{}
	case "AbortSignal":
		w.signals = map[*goja.Object]*abortSignal{}
	case "AbortController":
		w.controllers = map[*goja.Object]*abortSignal{}
	case "URL":
		w.urls = map[*goja.Object]*urlObject{}
	case "URLSearchParams":
		w.params = map[*goja.Object]*searchParams{}
	case "Headers":
		w.headerLists = map[*goja.Object]*headerList{}
	case "crypto":
		w.keys = map[*goja.Object]*cryptoKey{}
	}
}

// isWebObject reports whether o is an instance of one of the web classes.
func (r *runner) isWebObject(o *goja.Object) bool {
	w := &r.webState
	_, a := w.encoders[o]
	_, b := w.decoders[o]
	_, c := w.signals[o]
	_, d := w.controllers[o]
	_, e := w.urls[o]
	_, f := w.params[o]
	_, g := w.headerLists[o]
	_, h := w.keys[o]
	return a || b || c || d || e || f || g || h
}

// webClass is a constructor and its prototype, built from Go functions.
// Instances keep their state in the runner (by object), never in reflected
// Go values: a method called on anything else is an "Illegal invocation".
type webClass struct {
	r     *runner
	ctor  *goja.Object
	proto *goja.Object
}

// newClass creates a class whose constructor runs construct (nil: the class
// cannot be constructed by plugin code, like AbortSignal).
func (r *runner) newClass(name string, length int, construct func(call goja.ConstructorCall) *goja.Object) *webClass {
	c := &webClass{r: r}
	if construct == nil {
		construct = func(goja.ConstructorCall) *goja.Object { panic(r.rt.NewTypeError("Illegal constructor")) }
	}
	c.ctor = r.rt.ToValue(construct).(*goja.Object)
	c.proto = r.rt.NewObject()
	_ = c.ctor.DefineDataProperty("name", r.rt.ToValue(name), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	_ = c.ctor.DefineDataProperty("length", r.rt.ToValue(length), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	_ = c.ctor.DefineDataProperty("prototype", c.proto, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
	_ = c.proto.DefineDataProperty("constructor", c.ctor, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	_ = c.proto.DefineDataPropertySymbol(goja.SymToStringTag, r.rt.ToValue(name), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	return c
}

func (c *webClass) method(name string, length int, fn func(goja.FunctionCall) goja.Value) {
	_ = c.proto.DefineDataProperty(name, c.r.function(name, length, fn), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
}

func (c *webClass) static(name string, length int, fn func(goja.FunctionCall) goja.Value) {
	_ = c.ctor.DefineDataProperty(name, c.r.function(name, length, fn), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
}

// accessor defines a getter (and a setter when set is not nil).
func (c *webClass) accessor(name string, get func(goja.FunctionCall) goja.Value, set func(goja.FunctionCall) goja.Value) {
	var setter goja.Value
	if set != nil {
		setter = c.r.function("set "+name, 1, set)
	}
	_ = c.proto.DefineAccessorProperty(name, c.r.function("get "+name, 0, get), setter, goja.FLAG_TRUE, goja.FLAG_FALSE)
}

// instance is a new object of the class, for instances made by Go code.
func (c *webClass) instance() *goja.Object { return c.r.rt.CreateObject(c.proto) }

// function is a named native function.
func (r *runner) function(name string, length int, fn func(goja.FunctionCall) goja.Value) *goja.Object {
	f := r.rt.ToValue(fn).(*goja.Object)
	_ = f.DefineDataProperty("name", r.rt.ToValue(name), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	_ = f.DefineDataProperty("length", r.rt.ToValue(length), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	return f
}

// illegal is the TypeError of a method called on a foreign receiver.
func (r *runner) illegal(what string) *goja.Object {
	return r.rt.NewTypeError("Illegal invocation: %s called on an object that is not one", what)
}

// argument returns the i-th argument, undefined when missing.
func argument(args []goja.Value, i int) goja.Value {
	if i < len(args) {
		return args[i]
	}
	return goja.Undefined()
}

func isNullish(v goja.Value) bool { return v == nil || goja.IsUndefined(v) || goja.IsNull(v) }

// charge refuses an allocation of n bytes sized by plugin input that could
// never fit in the invocation's memory: it fails the invocation with the
// memory limit before the worker tries to allocate it. Smaller allocations
// are measured like any other by the watchdog.
func (r *runner) charge(n int) {
	if int64(n) > r.limits.MemoryBytes || n < 0 {
		r.throw(memoryLimit(r.limits.MemoryBytes))
	}
}

// checkpoint fails the invocation if the watchdog tripped; long-running Go
// code (digests of large buffers) calls it between chunks, since an
// interrupt only stops JS code.
func (r *runner) checkpoint() {
	if hit := r.guard.hit.Load(); hit != nil {
		panic(r.rt.NewTypeError(hit.Error()))
	}
}

// Export types that classify objects without exporting them (Export of a
// plain object or a Map copies everything it holds, deeply).
var (
	arrayBufferType = reflect.TypeOf(goja.ArrayBuffer{})
	timeType        = reflect.TypeOf(time.Time{})
	mapExportType   = reflect.TypeOf([][2]any{})
	listExportType  = reflect.TypeOf([]any{})
	typedArrayTypes = map[reflect.Type]bool{
		reflect.TypeOf([]uint8{}): true, reflect.TypeOf([]int8{}): true, reflect.TypeOf([]uint16{}): true,
		reflect.TypeOf([]int16{}): true, reflect.TypeOf([]uint32{}): true, reflect.TypeOf([]int32{}): true,
		reflect.TypeOf([]float32{}): true, reflect.TypeOf([]float64{}): true, reflect.TypeOf([]int64{}): true,
		reflect.TypeOf([]uint64{}): true,
	}
)

// bufferBytes returns the bytes a BufferSource (an ArrayBuffer, a typed
// array or a DataView) views, sharing its memory; ok is false for any
// other value.
func (r *runner) bufferBytes(v goja.Value) (b []byte, ok bool) {
	o, isObj := v.(*goja.Object)
	if !isObj {
		return nil, false
	}
	switch t := o.ExportType(); {
	case t == arrayBufferType:
		return o.Export().(goja.ArrayBuffer).Bytes(), true
	case typedArrayTypes[t]:
		return typedBytes(o.Export())
	}
	if isDataView(r, o) {
		var view []byte
		if r.rt.ExportTo(o, &view) == nil {
			return view, true
		}
	}
	return nil, false
}

// typedBytes views the elements of an exported typed array as bytes.
func typedBytes(v any) ([]byte, bool) {
	switch x := v.(type) {
	case []byte:
		return x, true
	case []int8:
		return sliceBytes(x), true
	case []uint16:
		return sliceBytes(x), true
	case []int16:
		return sliceBytes(x), true
	case []uint32:
		return sliceBytes(x), true
	case []int32:
		return sliceBytes(x), true
	case []float32:
		return sliceBytes(x), true
	case []float64:
		return sliceBytes(x), true
	case []int64:
		return sliceBytes(x), true
	case []uint64:
		return sliceBytes(x), true
	}
	return nil, false
}

func isDataView(r *runner, o *goja.Object) bool {
	ctor, _ := r.rt.Get("DataView").(*goja.Object)
	if ctor == nil {
		return false
	}
	proto, _ := ctor.Get("prototype").(*goja.Object)
	for p := o.Prototype(); p != nil; p = p.Prototype() {
		if p == proto {
			return true
		}
	}
	return false
}

// sliceBytes views a typed array's elements as bytes.
func sliceBytes[T any](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	var zero T
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(zero)))
}

// uint8Array wraps b (not copied) in a new Uint8Array. The constructor is
// looked up when first needed, not captured before plugin code runs: goja
// builds its typed arrays on first access, which a trivial hook must not
// pay for. A plugin that replaced the global only confuses itself.
func (r *runner) uint8Array(b []byte) goja.Value {
	if r.uint8Ctor == nil {
		ctor, ok := r.rt.Get("Uint8Array").(*goja.Object)
		if !ok {
			panic(r.rt.NewTypeError("Uint8Array was replaced"))
		}
		r.uint8Ctor = ctor
	}
	buf := r.rt.ToValue(r.rt.NewArrayBuffer(b))
	o, err := r.rt.New(r.uint8Ctor, buf)
	if err != nil {
		panic(err)
	}
	return o
}

// arrayBuffer wraps b (not copied) in a new ArrayBuffer.
func (r *runner) arrayBuffer(b []byte) goja.Value { return r.rt.ToValue(r.rt.NewArrayBuffer(b)) }

// stringArg converts a value to a string the way WebIDL's DOMString does
// (String(v), which may run plugin code under the limits); symbols throw.
func (r *runner) toDOMString(v goja.Value) string {
	if _, ok := v.(*goja.Symbol); ok {
		panic(r.rt.NewTypeError("Cannot convert a Symbol value to a string"))
	}
	return v.String()
}

// toUSVString is toDOMString with lone surrogates replaced by U+FFFD, which
// Go's UTF-8 conversion of a JS string already does.
func (r *runner) toUSVString(v goja.Value) string { return r.toDOMString(v) }

func (r *runner) promiseResolved(v goja.Value) goja.Value {
	p, resolve, _ := r.rt.NewPromise()
	_ = resolve(v)
	return r.rt.ToValue(p)
}

func (r *runner) promiseRejected(reason goja.Value) goja.Value {
	p, _, reject := r.rt.NewPromise()
	_ = reject(reason)
	return r.rt.ToValue(p)
}

// asyncResult runs f and returns a promise of its value, or of the
// exception it threw (WebCrypto methods reject rather than throw). A limit
// the watchdog hit is never turned into a rejection.
func (r *runner) asyncResult(f func() goja.Value) (ret goja.Value) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		if r.guard.hit.Load() != nil {
			panic(p)
		}
		switch x := p.(type) {
		case *goja.Object:
			ret = r.promiseRejected(x)
		case *goja.Exception:
			ret = r.promiseRejected(x.Value())
		default:
			panic(p) // an interrupt or a Go fault: not the plugin's to catch
		}
	}()
	return r.promiseResolved(f())
}
