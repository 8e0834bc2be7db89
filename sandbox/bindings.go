package sandbox

import (
	"errors"
	"strconv"
	"time"

	"github.com/dop251/goja"
)

// logLineOverhead is charged per log line on top of its message so that a
// flood of empty lines still meets the log volume limit.
const logLineOverhead = 32

// buildCtx creates the plugin's ctx from the task's grants only: an API the
// grants do not allow is absent, not stubbed. Every function is a plain
// native function on a fresh object (no reflected Go values), and every
// host call is re-checked by the parent anyway. The API objects are built
// on first access (most hooks touch one or two), which keeps a trivial
// invocation cheap.
func (r *runner) buildCtx() (*goja.Object, error) {
	rt, t := r.rt, r.t
	ctx := rt.NewObject()

	plugin := rt.NewObject()
	_ = plugin.Set("id", t.PluginID)
	_ = plugin.Set("version", t.Version)
	if _, err := r.n.freeze(goja.Undefined(), plugin); err != nil {
		return nil, err
	}
	_ = ctx.Set("plugin", plugin)

	settings, err := r.frozenSettings()
	if err != nil {
		return nil, err
	}
	_ = ctx.Set("settings", settings)

	r.lazy(ctx, "log", func() *goja.Object {
		log := rt.NewObject()
		for _, level := range []string{"debug", "info", "warn", "error"} {
			_ = log.Set(level, r.logFunc(level))
		}
		return log
	})
	r.lazy(ctx, "kv", func() *goja.Object { return r.hostObject("kv", "get", "set", "delete", "list") })
	r.lazy(ctx, "storage", func() *goja.Object {
		storage := rt.NewObject()
		for _, coll := range t.Collections {
			if validCollectionName(coll) {
				_ = storage.Set(coll, r.hostObject("storage."+coll, storageOps...))
			}
		}
		return storage
	})

	caps := t.Capabilities
	if hasCap(caps, CapContentRead, CapContentWrite) {
		r.lazy(ctx, "content", func() *goja.Object {
			ops := []string{"get", "list"}
			if hasCap(caps, CapContentWrite) {
				ops = append(ops, "create", "update", "delete")
			}
			return r.hostObject("content", ops...)
		})
	}
	if hasCap(caps, CapMediaRead, CapMediaWrite) {
		r.lazy(ctx, "media", func() *goja.Object {
			ops := []string{"get", "list"}
			if hasCap(caps, CapMediaWrite) {
				ops = append(ops, "upload", "delete")
			}
			return r.hostObject("media", ops...)
		})
	}
	if hasCap(caps, CapUsersRead) {
		r.lazy(ctx, "users", func() *goja.Object { return r.hostObject("users", "get", "list") })
	}
	if hasCap(caps, CapNetwork) {
		r.lazy(ctx, "http", func() *goja.Object {
			http := rt.NewObject()
			_ = http.Set("fetch", r.hostFunc("http.fetch", r.responseObject))
			return http
		})
	}
	if hasCap(caps, CapEmail) {
		r.lazy(ctx, "email", func() *goja.Object { return r.hostObject("email", "send") })
	}
	return ctx, nil
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

func (r *runner) hostObject(prefix string, ops ...string) *goja.Object {
	o := r.rt.NewObject()
	for _, op := range ops {
		_ = o.Set(op, r.hostFunc(prefix+"."+op, nil))
	}
	return o
}

// hostFunc returns a binding that copies its arguments out as JSON, sends the
// call to the host and returns a promise of the answer.
func (r *runner) hostFunc(method string, wrap func(goja.Value) (goja.Value, error)) goja.Value {
	return r.rt.ToValue(func(call goja.FunctionCall) goja.Value {
		enc := newValueEncoder(r.rt, LimitRequest, r.limits.RequestBytes, r.limits.MaxDepth)
		enc.buf = append(enc.buf, '[')
		for i, a := range call.Arguments {
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
// headers, body} like a small Response: ok, text(), json().
func (r *runner) responseObject(v goja.Value) (goja.Value, error) {
	o, ok := v.(*goja.Object)
	if !ok {
		return v, nil
	}
	status := o.Get("status").ToInteger()
	body := o.Get("body")
	if body == nil || goja.IsUndefined(body) || goja.IsNull(body) {
		body = r.rt.ToValue("")
	}
	_ = o.Set("ok", status >= 200 && status <= 299)
	_ = o.Set("text", func(goja.FunctionCall) goja.Value {
		p, resolve, _ := r.rt.NewPromise()
		_ = resolve(body)
		return r.rt.ToValue(p)
	})
	_ = o.Set("json", func(goja.FunctionCall) goja.Value {
		p, resolve, reject := r.rt.NewPromise()
		if parsed, err := decodeJSON(r.rt, []byte(body.String()), hostJSONDepth); err != nil {
			_ = reject(r.syntaxError(err.Error()))
		} else {
			_ = resolve(parsed)
		}
		return r.rt.ToValue(p)
	})
	return o, nil
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
