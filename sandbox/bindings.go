package sandbox

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dop251/goja"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

// logLineOverhead is charged per log line on top of its message so that a
// flood of empty lines still meets the log volume limit.
const logLineOverhead = 32

// buildCtx creates the plugin's ctx from the task's grants only, as the
// manifest's vocabulary describes it (manifest.CtxAPIs): an API the grants
// do not allow is absent, not stubbed. Every function is a plain native
// function on a fresh object (no reflected Go values), and every host call
// is re-checked by the parent anyway. Values are built at once; the API
// objects on first access (most hooks touch one or two), which keeps a
// trivial invocation cheap.
func (r *runner) buildCtx() (*goja.Object, error) {
	ctx := r.rt.NewObject()
	for _, api := range manifest.CtxAPIs(r.t.Capabilities, r.t.Hooks...) {
		switch api.Kind {
		case manifest.ValueAPI:
			build, ok := valueAPIs[api.Namespace]
			if !ok {
				return nil, fmt.Errorf("sandbox: no value for ctx.%s", api.Namespace)
			}
			if api.Namespace == "site" {
				// Rarely read: built on first access, like the APIs.
				r.lazy(ctx, api.Namespace, func() *goja.Object {
					v, err := build(r)
					if err != nil {
						panic(err)
					}
					return v.(*goja.Object)
				})
				continue
			}
			v, err := build(r)
			if err != nil {
				return nil, err
			}
			_ = ctx.Set(api.Namespace, v)
		case manifest.IsolateAPI:
			impl, ok := isolateAPIs[api.Namespace]
			if !ok {
				return nil, fmt.Errorf("sandbox: no implementation of ctx.%s", api.Namespace)
			}
			r.lazy(ctx, api.Namespace, func() *goja.Object {
				o := r.rt.NewObject()
				for _, m := range api.Methods {
					_ = o.Set(m.Name, impl(r, m.Name))
				}
				return o
			})
		case manifest.FunctionAPI:
			impl, ok := isolateFuncs[api.Namespace]
			if !ok {
				return nil, fmt.Errorf("sandbox: no implementation of ctx.%s", api.Namespace)
			}
			r.lazy(ctx, api.Namespace, func() *goja.Object { return impl(r) })
		case manifest.HostAPI:
			r.lazy(ctx, api.Namespace, func() *goja.Object { return r.hostObject(api.Namespace, api.Namespace, api.Methods) })
		case manifest.CollectionAPI:
			r.lazy(ctx, api.Namespace, func() *goja.Object {
				o := r.rt.NewObject()
				for _, coll := range r.t.Collections {
					if validCollectionName(coll) {
						_ = o.Set(coll, r.hostObject(api.Namespace, api.Namespace+"."+coll, api.Methods))
					}
				}
				return o
			})
		}
	}
	return ctx, nil
}

// valueAPIs build the ctx members that are frozen values.
var valueAPIs = map[string]func(*runner) (goja.Value, error){
	"plugin":   (*runner).pluginValue,
	"settings": (*runner).frozenSettings,
	"site":     (*runner).siteValue,
}

// isolateFuncs build the ctx members that are functions answered in the
// isolate.
var isolateFuncs = map[string]func(*runner) *goja.Object{
	"url": (*runner).urlFunc,
}

// isolateAPIs implement the ctx members answered inside the isolate: each
// returns the function of one method.
var isolateAPIs = map[string]func(r *runner, method string) goja.Value{
	"log": (*runner).logFunc,
}

// resultWrappers decorate the answers of host methods whose result is more
// than JSON, by manifest method key.
var resultWrappers = map[string]func(*runner, goja.Value) goja.Value{
	"http.fetch":      (*runner).responseObject,
	"storage.getMany": (*runner).docMap,
}

// docMap turns getMany's [[id, data], …] into a Map, as EmDash's
// getMany returns (an object would reorder ids that look like numbers).
func (r *runner) docMap(v goja.Value) goja.Value {
	ctor, ok := goja.AssertConstructor(r.rt.Get("Map"))
	if !ok {
		return v
	}
	m, err := ctor(nil, v)
	if err != nil {
		return v
	}
	return m
}

// argPreparers turn the arguments of host methods that take more than JSON
// into JSON-ready values, and find the AbortSignal that cancels the call,
// by manifest method key.
var argPreparers = map[string]func(*runner, []goja.Value) ([]goja.Value, *abortSignal){
	"http.fetch": (*runner).fetchArgs,
}

// pluginValue is ctx.plugin: the frozen {id, version}.
func (r *runner) pluginValue() (goja.Value, error) {
	plugin := r.rt.NewObject()
	_ = plugin.Set("id", r.t.PluginID)
	_ = plugin.Set("version", r.t.Version)
	if _, err := r.n.freeze(goja.Undefined(), plugin); err != nil {
		return nil, err
	}
	return plugin, nil
}

// lazy defines obj[name] as an enumerable accessor that builds the value on
// first access and then replaces itself with a plain data property.
func (r *runner) lazy(obj *goja.Object, name string, build func() *goja.Object) {
	getter := r.rt.ToValue(func(goja.FunctionCall) goja.Value {
		v := build()
		_ = obj.DefineDataProperty(name, v, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE)
		return v
	})
	_ = obj.DefineAccessorProperty(name, getter, nil, goja.FLAG_TRUE, goja.FLAG_TRUE)
}

// hostObject is one object of the host methods of namespace ns; their calls
// are named prefix.<method> (prefix is ns, or "storage.<collection>").
func (r *runner) hostObject(ns, prefix string, methods []manifest.Method) *goja.Object {
	o := r.rt.NewObject()
	for _, m := range methods {
		var wrap func(goja.Value) goja.Value
		if w, ok := resultWrappers[ns+"."+m.Name]; ok {
			wrap = func(v goja.Value) goja.Value { return w(r, v) }
		}
		_ = o.Set(m.Name, r.hostFunc(prefix+"."+m.Name, wrap, argPreparers[ns+"."+m.Name]))
	}
	return o
}

// hostFunc returns a binding that copies its arguments out as JSON, sends the
// call to the host and returns a promise of the answer.
func (r *runner) hostFunc(method string, wrap func(goja.Value) goja.Value,
	prepare func(*runner, []goja.Value) ([]goja.Value, *abortSignal)) goja.Value {
	return r.rt.ToValue(func(call goja.FunctionCall) goja.Value {
		args := call.Arguments
		var signal *abortSignal
		if prepare != nil {
			args, signal = prepare(r, args)
			if signal != nil && signal.aborted {
				return r.promiseRejected(signal.reason)
			}
		}
		enc := newValueEncoder(r.rt, LimitRequest, r.limits.RequestBytes, r.limits.MaxDepth)
		enc.buf = append(enc.buf, '[')
		for i, a := range args {
			if i > 0 {
				enc.buf = append(enc.buf, ',')
			}
			ok, err := enc.value(a, strconv.Itoa(i), 1)
			if err != nil {
				r.throw(err)
			}
			if !ok {
				enc.buf = append(enc.buf, "null"...)
			}
		}
		enc.buf = append(enc.buf, ']')
		if len(enc.buf) > r.limits.RequestBytes {
			r.throw(bytesLimit(LimitRequest, r.limits.RequestBytes))
		}
		if len(r.pending) >= maxPendingCalls {
			panic(r.rt.NewTypeError("too many host calls in flight (at most %d)", maxPendingCalls))
		}
		p, resolve, reject := r.rt.NewPromise()
		id := callIDs.Add(1)
		if err := r.link.send(id, method, enc.buf); err != nil {
			_ = reject(r.newError(err.Error()))
			return r.rt.ToValue(p)
		}
		r.pending[id] = &pendingCall{resolve: resolve, reject: reject, wrap: wrap}
		if signal != nil {
			signal.algorithms = append(signal.algorithms, func() {
				if _, waiting := r.pending[id]; !waiting {
					return
				}
				delete(r.pending, id)
				r.link.cancel(id)
				_ = reject(signal.reason)
			})
		}
		return r.rt.ToValue(p)
	})
}

// throw raises err inside JS: limits are fatal (the watchdog interrupts),
// values that cannot cross are a TypeError, plugin exceptions propagate.
func (r *runner) throw(err error) {
	if le, ok := err.(*LimitError); ok {
		r.guard.trip(le)
		panic(r.rt.NewTypeError(le.Error()))
	}
	if !isGojaError(err) && errors.Is(err, ErrBadValue) {
		panic(r.rt.NewTypeError(err.Error()))
	}
	panic(err) // a *goja.Exception or an uncatchable interrupt
}

// responseObject decorates the host's fetch answer {status, statusText,
// headers, body | bodyBase64, url, redirected} like a small Response: ok,
// headers as a Headers object, text(), json() and arrayBuffer(). The body
// may be read any number of times.
func (r *runner) responseObject(v goja.Value) goja.Value {
	o, ok := v.(*goja.Object)
	if !ok {
		return v
	}
	status := o.Get("status").ToInteger()
	var raw []byte
	if b64 := o.Get("bodyBase64"); !isNullish(b64) {
		raw, _ = base64.StdEncoding.DecodeString(b64.String())
		_ = o.Delete("bodyBase64")
	} else if body := o.Get("body"); !isNullish(body) {
		raw = []byte(body.String())
	}
	_ = o.Delete("body")
	text := func() string { s, _, _ := decodeUTF8(raw, false); return s }
	var list []nameValue
	if h, ok := o.Get("headers").(*goja.Object); ok {
		for _, k := range h.Keys() {
			list = append(list, nameValue{strings.ToLower(k), h.Get(k).String()})
		}
	}
	_ = o.Set("headers", r.newHeaders(list, true))
	_ = o.Set("ok", status >= 200 && status <= 299)
	_ = o.Set("text", func(goja.FunctionCall) goja.Value { return r.promiseResolved(r.rt.ToValue(text())) })
	_ = o.Set("json", func(goja.FunctionCall) goja.Value {
		parsed, err := decodeJSON(r.rt, []byte(text()), MaxJSONDepth)
		if err != nil {
			return r.promiseRejected(r.syntaxError(err.Error()))
		}
		return r.promiseResolved(parsed)
	})
	_ = o.Set("arrayBuffer", func(goja.FunctionCall) goja.Value {
		return r.promiseResolved(r.arrayBuffer(slices.Clone(raw)))
	})
	return o
}

// fetchArgs prepares ctx.http.fetch(input, init): the input as a string
// (a URL object is its href), and init as {method, headers: [[name,
// value], …], body | bodyBase64}: headers from an object, pairs or a
// Headers, the body from a string, URLSearchParams (form-encoded) or bytes.
// init.signal cancels the request.
func (r *runner) fetchArgs(args []goja.Value) ([]goja.Value, *abortSignal) {
	out := make([]goja.Value, 0, 2)
	input := argument(args, 0)
	if _, isObj := input.(*goja.Object); isObj && !isNullish(input) {
		input = r.rt.ToValue(r.toUSVString(input))
	}
	out = append(out, input)
	init, ok := argument(args, 1).(*goja.Object)
	if !ok {
		return out, nil
	}
	signal := r.signalOf(init.Get("signal"))
	if s := init.Get("signal"); signal == nil && !isNullish(s) {
		panic(r.rt.NewTypeError("ctx.http.fetch: init.signal must be an AbortSignal"))
	}
	req := r.rt.NewObject()
	if m := init.Get("method"); !isNullish(m) {
		_ = req.Set("method", r.toDOMString(m))
	}
	headers := r.headerPairs(init.Get("headers"), "ctx.http.fetch")
	if body := init.Get("body"); !isNullish(body) {
		if bo, isObj := body.(*goja.Object); isObj {
			if sp := r.params[bo]; sp != nil {
				_ = req.Set("body", serializeURLEncoded(sp.list))
				if !slices.ContainsFunc(headers, func(p nameValue) bool { return p.name == "content-type" }) {
					headers = append(headers, nameValue{"content-type", "application/x-www-form-urlencoded;charset=UTF-8"})
				}
			} else if b, isBuf := r.bufferBytes(bo); isBuf {
				r.charge(base64.StdEncoding.EncodedLen(len(b)))
				_ = req.Set("bodyBase64", base64.StdEncoding.EncodeToString(b))
			} else {
				_ = req.Set("body", r.toUSVString(body))
			}
		} else {
			_ = req.Set("body", r.toUSVString(body))
		}
	}
	if headers != nil {
		pairs := make([]any, len(headers))
		for i, h := range headers {
			pairs[i] = r.rt.NewArray(h.name, h.value)
		}
		_ = req.Set("headers", r.rt.NewArray(pairs...))
	}
	return append(out, req), signal
}

// frozenSettings is a deep-frozen copy of the granted settings.
func (r *runner) frozenSettings() (goja.Value, error) {
	raw := r.t.Settings
	if len(raw) == 0 {
		raw = []byte("{}")
	}
	v, err := r.parseJSON(raw)
	if err != nil {
		return nil, err
	}
	return v, r.deepFreeze(v, 0)
}

func (r *runner) deepFreeze(v goja.Value, depth int) error {
	o, ok := v.(*goja.Object)
	if !ok || depth > r.limits.MaxDepth {
		return nil
	}
	for _, k := range o.Keys() {
		if err := r.deepFreeze(o.Get(k), depth+1); err != nil {
			return err
		}
	}
	_, err := r.n.freeze(goja.Undefined(), o)
	return err
}

// logFunc collects ctx.log lines in the isolate (no round trip); going over
// the log volume limit fails the invocation.
func (r *runner) logFunc(level string) goja.Value {
	return r.rt.ToValue(func(call goja.FunctionCall) goja.Value {
		budget := r.limits.LogBytes - r.logBytes - logLineOverhead
		if budget < 0 {
			r.throw(bytesLimit(LimitLog, r.limits.LogBytes))
		}
		var msg []byte
		for i, a := range call.Arguments {
			if i > 0 {
				msg = append(msg, ' ')
			}
			var fits bool
			if msg, fits = r.appendLogArg(msg, a, budget-len(msg)); !fits || len(msg) > budget {
				r.throw(bytesLimit(LimitLog, r.limits.LogBytes))
			}
		}
		r.logBytes += len(msg) + logLineOverhead
		r.logs = append(r.logs, LogLine{Level: level, Message: string(msg), Time: time.Now().UTC()})
		return goja.Undefined()
	})
}

// appendLogArg formats one log argument like console.log would, roughly:
// strings as they are, errors as "Name: message", everything else as JSON.
// It reports false when the argument does not fit in budget bytes.
func (r *runner) appendLogArg(b []byte, v goja.Value, budget int) ([]byte, bool) {
	if o, ok := v.(*goja.Object); ok && o.ClassName() == "Error" {
		name, msg := primitiveString(o.Get("name")), primitiveString(o.Get("message"))
		if len(name)+len(msg)+2 > budget {
			return b, false
		}
		return append(append(append(b, name...), ": "...), msg...), true
	}
	if _, isObj := v.(*goja.Object); !isObj && v != nil && !goja.IsUndefined(v) {
		if _, isSym := v.(*goja.Symbol); !isSym {
			s := v.String()
			if len(s) > budget {
				return b, false
			}
			return append(b, s...), true
		}
	}
	enc := newValueEncoder(r.rt, LimitLog, max(budget, 0), r.limits.MaxDepth)
	ok, err := enc.encode(v)
	switch {
	case err == nil && !ok:
		return append(b, "undefined"...), true
	case err == nil:
		return append(b, enc.buf...), true
	case !isGojaError(err) && errors.Is(err, ErrBadValue):
		return append(b, "[unserialisable]"...), true
	}
	if _, isLimit := err.(*LimitError); isLimit {
		return b, false
	}
	panic(err) // a plugin exception or an interrupt
}
