package sandbox

import (
	"math"
	"strconv"
	"time"

	"github.com/dop251/goja"
)

// DOMException, AbortController and AbortSignal (with AbortSignal.abort,
// .timeout and .any). A signal passed to ctx.http.fetch cancels the host's
// outbound request (see fetchArgs).

// domExceptionCodes are the legacy codes of the names that have one.
var domExceptionCodes = map[string]int{
	"IndexSizeError": 1, "HierarchyRequestError": 3, "WrongDocumentError": 4, "InvalidCharacterError": 5,
	"NoModificationAllowedError": 7, "NotFoundError": 8, "NotSupportedError": 9, "InvalidStateError": 11,
	"SyntaxError": 12, "InvalidModificationError": 13, "NamespaceError": 14, "InvalidAccessError": 15,
	"TypeMismatchError": 17, "SecurityError": 18, "NetworkError": 19, "AbortError": 20, "URLMismatchError": 21,
	"QuotaExceededError": 22, "TimeoutError": 23, "InvalidNodeTypeError": 24, "DataCloneError": 25,
}

func (r *runner) domExceptionClass() goja.Value {
	c := r.newClass("DOMException", 0, func(call goja.ConstructorCall) *goja.Object {
		msg, name := "", "Error"
		if v := argument(call.Arguments, 0); !goja.IsUndefined(v) {
			msg = r.toDOMString(v)
		}
		if v := argument(call.Arguments, 1); !goja.IsUndefined(v) {
			name = r.toDOMString(v)
		}
		o := r.newDOMException(call.This.Prototype(), name, msg)
		return o
	})
	errProto, _ := r.n.errorCtor.Get("prototype").(*goja.Object)
	_ = c.proto.SetPrototype(errProto)
	for name, code := range domExceptionCodes {
		_ = c.ctor.DefineDataProperty(legacyCodeName(name), r.rt.ToValue(code), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE)
	}
	r.domProto = c.proto
	return c.ctor
}

// legacyCodeName is the constant's name, e.g. ABORT_ERR for AbortError.
func legacyCodeName(name string) string {
	special := map[string]string{"IndexSizeError": "INDEX_SIZE_ERR", "InvalidCharacterError": "INVALID_CHARACTER_ERR",
		"QuotaExceededError": "QUOTA_EXCEEDED_ERR", "AbortError": "ABORT_ERR", "TimeoutError": "TIMEOUT_ERR",
		"DataCloneError": "DATA_CLONE_ERR", "SyntaxError": "SYNTAX_ERR", "NotSupportedError": "NOT_SUPPORTED_ERR",
		"InvalidStateError": "INVALID_STATE_ERR", "NetworkError": "NETWORK_ERR", "SecurityError": "SECURITY_ERR",
		"NotFoundError": "NOT_FOUND_ERR", "InvalidAccessError": "INVALID_ACCESS_ERR", "TypeMismatchError": "TYPE_MISMATCH_ERR",
		"HierarchyRequestError": "HIERARCHY_REQUEST_ERR", "WrongDocumentError": "WRONG_DOCUMENT_ERR",
		"NoModificationAllowedError": "NO_MODIFICATION_ALLOWED_ERR", "InvalidModificationError": "INVALID_MODIFICATION_ERR",
		"NamespaceError": "NAMESPACE_ERR", "URLMismatchError": "URL_MISMATCH_ERR", "InvalidNodeTypeError": "INVALID_NODE_TYPE_ERR"}
	return special[name]
}

// newDOMException makes an Error object (so it has a stack and reads as an
// error everywhere) whose prototype is DOMException.prototype.
func (r *runner) newDOMException(proto *goja.Object, name, msg string) *goja.Object {
	o, err := r.rt.New(r.n.errorCtor, r.rt.ToValue(msg))
	if err != nil {
		panic(err)
	}
	_ = o.SetPrototype(proto)
	_ = o.DefineDataProperty("name", r.rt.ToValue(name), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	_ = o.DefineDataProperty("code", r.rt.ToValue(domExceptionCodes[name]), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	return o
}

// domException is a new DOMException of the given name, for the host's own
// errors (InvalidCharacterError, QuotaExceededError, AbortError…).
func (r *runner) domException(name, msg string) *goja.Object {
	r.global("DOMException")
	return r.newDOMException(r.domProto, name, msg)
}

// newNamedError is an error of one of the standard types (RangeError,
// SyntaxError), made with the current global constructor when it is still a
// function, or else an Error named like it.
func (r *runner) newNamedError(name, msg string) *goja.Object {
	if ctor, ok := r.rt.Get(name).(*goja.Object); ok {
		if o, err := r.rt.New(ctor, r.rt.ToValue(msg)); err == nil {
			return o
		}
	}
	e := r.newError(msg).(*goja.Object)
	_ = e.DefineDataProperty("name", r.rt.ToValue(name), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	return e
}

func quoteJS(s string) string { return strconv.Quote(truncate(s, 200)) }

// abortSignal is the state of one AbortSignal.
type abortSignal struct {
	obj       *goja.Object
	aborted   bool
	reason    goja.Value
	onabort   goja.Value
	listeners []abortListener
	// algorithms run before the abort event (a fetch's cancellation, a
	// dependent signal); dependents are AbortSignal.any signals.
	algorithms []func()
}

type abortListener struct {
	fn   goja.Value
	once bool
}

func (r *runner) abortSignalClass() goja.Value {
	c := r.newClass("AbortSignal", 0, nil)
	r.signalProto = c.proto
	get := func(this goja.Value, what string) *abortSignal {
		o, _ := this.(*goja.Object)
		s := r.signals[o]
		if s == nil {
			panic(r.illegal(what))
		}
		return s
	}
	c.accessor("aborted", func(call goja.FunctionCall) goja.Value {
		return r.rt.ToValue(get(call.This, "AbortSignal.aborted").aborted)
	}, nil)
	c.accessor("reason", func(call goja.FunctionCall) goja.Value {
		s := get(call.This, "AbortSignal.reason")
		if s.reason == nil {
			return goja.Undefined()
		}
		return s.reason
	}, nil)
	c.accessor("onabort", func(call goja.FunctionCall) goja.Value {
		s := get(call.This, "AbortSignal.onabort")
		if s.onabort == nil {
			return goja.Null()
		}
		return s.onabort
	}, func(call goja.FunctionCall) goja.Value {
		s := get(call.This, "AbortSignal.onabort")
		v := argument(call.Arguments, 0)
		if _, ok := goja.AssertFunction(v); ok {
			s.onabort = v
		} else {
			s.onabort = nil
		}
		return goja.Undefined()
	})
	c.method("throwIfAborted", 0, func(call goja.FunctionCall) goja.Value {
		if s := get(call.This, "AbortSignal.throwIfAborted"); s.aborted {
			panic(s.reason)
		}
		return goja.Undefined()
	})
	c.method("addEventListener", 2, func(call goja.FunctionCall) goja.Value {
		s := get(call.This, "AbortSignal.addEventListener")
		fn := argument(call.Arguments, 1)
		if r.toDOMString(argument(call.Arguments, 0)) != "abort" || isNullish(fn) {
			return goja.Undefined()
		}
		once := false
		if o, ok := argument(call.Arguments, 2).(*goja.Object); ok {
			once = o.Get("once") != nil && o.Get("once").ToBoolean()
		}
		for _, l := range s.listeners {
			if l.fn.SameAs(fn) {
				return goja.Undefined()
			}
		}
		s.listeners = append(s.listeners, abortListener{fn: fn, once: once})
		return goja.Undefined()
	})
	c.method("removeEventListener", 2, func(call goja.FunctionCall) goja.Value {
		s := get(call.This, "AbortSignal.removeEventListener")
		fn := argument(call.Arguments, 1)
		for i, l := range s.listeners {
			if l.fn.SameAs(fn) {
				s.listeners = append(s.listeners[:i:i], s.listeners[i+1:]...)
				break
			}
		}
		return goja.Undefined()
	})
	c.static("abort", 0, func(call goja.FunctionCall) goja.Value {
		s := r.newSignal()
		r.abort(s, argument(call.Arguments, 0))
		return s.obj
	})
	c.static("timeout", 1, func(call goja.FunctionCall) goja.Value {
		ms := argument(call.Arguments, 0).ToFloat()
		if math.IsNaN(ms) || math.IsInf(ms, 0) || ms < 0 || ms > math.MaxUint32*1024 {
			panic(r.rt.NewTypeError("AbortSignal.timeout: the delay must be a non-negative number of milliseconds"))
		}
		s := r.newSignal()
		r.addTimer(&timer{delay: time.Duration(ms) * time.Millisecond, goFn: func() {
			r.abort(s, r.domException("TimeoutError", "signal timed out"))
		}})
		return s.obj
	})
	c.static("any", 1, func(call goja.FunctionCall) goja.Value {
		out := r.newSignal()
		var sources []*abortSignal
		r.iterate(argument(call.Arguments, 0), "AbortSignal.any", func(v goja.Value) {
			o, _ := v.(*goja.Object)
			s := r.signals[o]
			if s == nil {
				panic(r.rt.NewTypeError("AbortSignal.any: every item must be an AbortSignal"))
			}
			sources = append(sources, s)
		})
		for _, s := range sources {
			if s.aborted {
				out.aborted, out.reason = true, s.reason
				return out.obj
			}
		}
		for _, s := range sources {
			s.algorithms = append(s.algorithms, func() { r.abort(out, s.reason) })
		}
		return out.obj
	})
	return c.ctor
}

// newSignal is a new, not aborted AbortSignal.
func (r *runner) newSignal() *abortSignal {
	r.global("AbortSignal")
	s := &abortSignal{obj: r.rt.CreateObject(r.signalProto)}
	r.signals[s.obj] = s
	return s
}

// signalOf returns the AbortSignal v is, or nil.
func (r *runner) signalOf(v goja.Value) *abortSignal {
	o, ok := v.(*goja.Object)
	if !ok || r.signals == nil {
		return nil
	}
	return r.signals[o]
}

// abort signals abort with reason (undefined: an AbortError): the
// algorithms first, then onabort and the listeners in order.
func (r *runner) abort(s *abortSignal, reason goja.Value) {
	if s.aborted {
		return
	}
	if isNullish(reason) && (reason == nil || goja.IsUndefined(reason)) {
		reason = r.domException("AbortError", "This operation was aborted")
	}
	s.aborted, s.reason = true, reason
	algorithms := s.algorithms
	s.algorithms = nil
	for _, a := range algorithms {
		a()
	}
	event := r.rt.NewObject()
	_ = event.Set("type", "abort")
	_ = event.Set("target", s.obj)
	_ = event.Set("currentTarget", s.obj)
	_ = event.Set("isTrusted", true)
	call := func(fn goja.Value) {
		if f, ok := goja.AssertFunction(fn); ok {
			if _, err := f(s.obj, event); err != nil {
				panic(err)
			}
			return
		}
		if o, ok := fn.(*goja.Object); ok {
			if f, ok := goja.AssertFunction(o.Get("handleEvent")); ok {
				if _, err := f(o, event); err != nil {
					panic(err)
				}
			}
		}
	}
	if s.onabort != nil {
		call(s.onabort)
	}
	listeners := s.listeners
	s.listeners = nil
	for _, l := range listeners {
		call(l.fn)
	}
}

func (r *runner) abortControllerClass() goja.Value {
	c := r.newClass("AbortController", 0, func(call goja.ConstructorCall) *goja.Object {
		r.controllers[call.This] = r.newSignal()
		return nil
	})
	get := func(this goja.Value, what string) *abortSignal {
		o, _ := this.(*goja.Object)
		s := r.controllers[o]
		if s == nil {
			panic(r.illegal(what))
		}
		return s
	}
	c.accessor("signal", func(call goja.FunctionCall) goja.Value {
		return get(call.This, "AbortController.signal").obj
	}, nil)
	c.method("abort", 0, func(call goja.FunctionCall) goja.Value {
		r.abort(get(call.This, "AbortController.abort"), argument(call.Arguments, 0))
		return goja.Undefined()
	})
	return c.ctor
}

// iterate calls f with each value of an iterable (an array, a Set, any
// object with Symbol.iterator), running plugin code under the limits.
func (r *runner) iterate(v goja.Value, what string, f func(goja.Value)) {
	o, ok := v.(*goja.Object)
	if !ok {
		panic(r.rt.NewTypeError("%s: the argument is not iterable", what))
	}
	iterFn, ok := goja.AssertFunction(o.GetSymbol(goja.SymIterator))
	if !ok {
		panic(r.rt.NewTypeError("%s: the argument is not iterable", what))
	}
	itv, err := iterFn(o)
	if err != nil {
		panic(err)
	}
	it, ok := itv.(*goja.Object)
	if !ok {
		panic(r.rt.NewTypeError("%s: the iterator is not an object", what))
	}
	next, ok := goja.AssertFunction(it.Get("next"))
	if !ok {
		panic(r.rt.NewTypeError("%s: the iterator has no next method", what))
	}
	for {
		resv, err := next(it)
		if err != nil {
			panic(err)
		}
		res, ok := resv.(*goja.Object)
		if !ok {
			panic(r.rt.NewTypeError("%s: the iterator result is not an object", what))
		}
		if res.Get("done") != nil && res.Get("done").ToBoolean() {
			return
		}
		f(res.Get("value"))
	}
}
