package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
)

// promiseType identifies promises without reading any property (ClassName
// of a promise is "Object").
var promiseType = reflect.TypeOf((*goja.Promise)(nil))

// maxPendingCalls bounds the host calls one invocation may have in flight.
const maxPendingCalls = 64

// hostLink carries host calls out of the isolate and their answers back,
// in any order.
type hostLink interface {
	send(id uint64, method string, args []byte) error
	// recv waits for the next answer, or until stop is closed (the
	// watchdog tripped) or wake is called, or (when until is not zero)
	// until then: it returns errRecvTimeout.
	recv(stop <-chan struct{}, until time.Time) (hostAnswer, error)
	// cancel tells the host that the plugin gave up on a call (its
	// AbortSignal fired): the host cancels the call's context.
	cancel(id uint64)
	// wake makes a blocked recv return; the watchdog calls it when it trips.
	wake()
	// watch tells the link which watchdog guards the running invocation
	// (nil once it ended), so a cancellation can trip it.
	watch(g *guard)
}

// hostAnswer settles one host call. Fatal ends the invocation with a limit
// (the parent counted one subrequest too many, for example).
type hostAnswer struct {
	ID     uint64          `json:"id"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
	Fatal  *LimitError     `json:"fatal,omitempty"`
}

// callIDs numbers host calls across invocations of a process, so an answer
// that arrives after its invocation ended can never settle a newer call.
var callIDs atomic.Uint64

type pendingCall struct {
	resolve, reject func(any) error
	wrap            func(goja.Value) goja.Value
}

// errRecvTimeout: recv returned because its until passed.
var errRecvTimeout = errors.New("sandbox: no answer before the next timer")

// outcome is what running a task produced.
type outcome struct {
	Value   json.RawMessage
	Exports *Exports
	Logs    []LogLine
	Usage   Usage
	Err     error
}

// runner runs one task in one fresh runtime.
type runner struct {
	t       *task
	limits  Limits
	rt      *goja.Runtime
	n       *natives
	guard   *guard
	link    hostLink
	pending map[uint64]*pendingCall

	logs     []LogLine
	logBytes int

	trampoline goja.Callable
	goFn       func() error
	goErr      error

	// The web globals (globals.go): those built, the event loop's timers,
	// the first exception a callback nobody awaits threw, and the state
	// of the objects of each class.
	web          map[string]goja.Value
	timers       timers
	uncaught     error
	domProto     *goja.Object
	signalProto  *goja.Object
	urlProto     *goja.Object
	paramsProto  *goja.Object
	headersProto *goja.Object
	uint8Ctor    *goja.Object
	webState
}

// runTask runs t in a fresh runtime. overrun is called by the watchdog when
// the runtime ignores an interrupt past the grace period (workers exit);
// nil in-process.
func runTask(t *task, s *script, link hostLink, overrun overrunFunc) (out outcome) {
	// The CPU limit charges this thread's CPU time (see cpuClock), so the
	// isolate must not migrate between threads while it runs.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r := &runner{t: t, limits: t.Limits, link: link, pending: make(map[uint64]*pendingCall)}
	r.rt = goja.New()
	r.rt.SetMaxCallStackSize(r.limits.StackFrames)
	r.guard = startGuard(r.rt, r.limits, overrun, link.wake)
	link.watch(r.guard)
	defer func() {
		link.watch(nil)
		out.Usage = r.guard.stop()
		out.Logs = r.logs
		if hit := r.guard.hit.Load(); hit != nil && hit.Limit == LimitMemory {
			// The final memory check wins over whatever the plugin did.
			out.Value, out.Exports, out.Err = nil, nil, hit
		}
	}()
	n, err := harden(r.rt, s)
	if err != nil {
		out.Err = err
		return out
	}
	r.n = n
	r.installGlobals()
	r.trampoline, _ = goja.AssertFunction(r.rt.ToValue(func(goja.FunctionCall) goja.Value {
		r.goErr = r.goFn()
		return goja.Undefined()
	}))
	if t.Kind == kindInspect {
		out.Exports, out.Err = r.inspect(s.prog)
		return out
	}
	out.Value, out.Err = r.invoke(s.prog)
	return out
}

func (r *runner) invoke(prog *goja.Program) (json.RawMessage, error) {
	ctxObj, err := r.buildCtx()
	if err != nil {
		return nil, r.classify(err)
	}
	if _, err := r.rt.RunProgram(prog); err != nil {
		return nil, r.classify(err)
	}
	var fn goja.Callable
	if err := r.callGo(func() (err error) { fn, err = r.lookup(); return err }); err != nil {
		return nil, r.classify(err)
	}
	event, err := r.parseJSON(r.t.Event)
	if err != nil {
		return nil, r.classify(err)
	}
	ret, err := fn(goja.Undefined(), event, ctxObj)
	if err != nil {
		return nil, r.classify(err)
	}
	if r.uncaught != nil {
		return nil, r.uncaught
	}
	if ret, err = r.await(ret); err != nil {
		return nil, err
	}
	var value json.RawMessage
	err = r.callGo(func() error {
		enc := newValueEncoder(r.rt, LimitResult, r.limits.ResultBytes, r.limits.MaxDepth)
		ok, err := enc.encode(ret)
		if ok {
			value = enc.buf
		}
		if err != nil && !isGojaError(err) && errors.Is(err, ErrBadValue) {
			return fmt.Errorf("return value: %w", err)
		}
		return err
	})
	if err != nil {
		return nil, r.classify(err)
	}
	// Host calls the plugin did not await still settle (and their
	// callbacks run) under the limits, like an event loop draining.
	// Timers do not run any more: the invocation's outcome is decided.
	for len(r.pending) > 0 {
		if err := r.next(); err != nil {
			return nil, err
		}
	}
	if hit := r.guard.hit.Load(); hit != nil {
		return nil, hit
	}
	if r.uncaught != nil {
		return nil, r.uncaught
	}
	return value, nil
}

func (r *runner) inspect(prog *goja.Program) (*Exports, error) {
	if _, err := r.rt.RunProgram(prog); err != nil {
		return nil, r.classify(err)
	}
	ex := &Exports{Hooks: []string{}, Routes: []string{}}
	err := r.callGo(func() error {
		def, err := r.defaultExport()
		if err != nil {
			return err
		}
		for _, part := range []struct {
			key  string
			into *[]string
		}{{"hooks", &ex.Hooks}, {"routes", &ex.Routes}} {
			obj, ok := def.Get(part.key).(*goja.Object)
			if !ok {
				continue
			}
			for _, k := range obj.Keys() {
				v := obj.Get(k)
				if _, ok := goja.AssertFunction(v); ok {
					*part.into = append(*part.into, k)
					continue
				}
				o, isObj := v.(*goja.Object)
				if part.key != "hooks" || !isObj {
					continue
				}
				// A hook as an object: {handler, priority?, timeoutMs?}.
				*part.into = append(*part.into, k)
				opts := HookOptions{}
				if _, ok := goja.AssertFunction(o.Get("handler")); !ok {
					opts.NoHandler = true
				}
				for _, f := range []struct {
					name string
					into *json.RawMessage
				}{{"priority", &opts.Priority}, {"timeoutMs", &opts.TimeoutMs}} {
					fv := o.Get(f.name)
					if fv == nil || goja.IsUndefined(fv) {
						continue
					}
					enc := newValueEncoder(r.rt, LimitResult, 64, 2)
					if ok, err := enc.encode(fv); ok && err == nil {
						*f.into = json.RawMessage(enc.buf)
					} else {
						*f.into = json.RawMessage(`"not a number"`)
					}
				}
				if ex.HookOptions == nil {
					ex.HookOptions = map[string]HookOptions{}
				}
				ex.HookOptions[k] = opts
			}
		}
		return nil
	})
	if err != nil {
		return nil, r.classify(err)
	}
	if hit := r.guard.hit.Load(); hit != nil {
		return nil, hit
	}
	return ex, nil
}

// defaultExport finds globalThis.__pilcrow.default (plugin code may run:
// call inside callGo).
func (r *runner) defaultExport() (*goja.Object, error) {
	mod, ok := r.rt.GlobalObject().Get("__pilcrow").(*goja.Object)
	if !ok {
		return nil, fmt.Errorf("%w: globalThis.__pilcrow is not defined (build the plugin with `pilcrow plugin build`)", ErrBadScript)
	}
	def, ok := mod.Get("default").(*goja.Object)
	if !ok {
		return nil, fmt.Errorf("%w: the plugin has no default export object", ErrBadScript)
	}
	return def, nil
}

func (r *runner) lookup() (goja.Callable, error) {
	def, err := r.defaultExport()
	if err != nil {
		return nil, err
	}
	group := "hooks"
	if r.t.Kind == KindRoute {
		group = "routes"
	}
	obj, ok := def.Get(group).(*goja.Object)
	if !ok {
		return nil, fmt.Errorf("%w: %s %q (the default export has no %s)", ErrNotImplemented, r.t.Kind, r.t.Name, group)
	}
	v := obj.Get(r.t.Name)
	fn, ok := goja.AssertFunction(v)
	if !ok && r.t.Kind == KindHook {
		// A hook may be exported as {handler, priority?, timeoutMs?}.
		if o, isObj := v.(*goja.Object); isObj {
			fn, ok = goja.AssertFunction(o.Get("handler"))
		}
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s %q", ErrNotImplemented, r.t.Kind, r.t.Name)
	}
	return fn, nil
}

// await runs the event loop until v (if a promise) settles.
func (r *runner) await(v goja.Value) (goja.Value, error) {
	o, ok := v.(*goja.Object)
	if !ok || o.ExportType() != promiseType {
		return v, nil
	}
	p, ok := o.Export().(*goja.Promise)
	if !ok {
		return v, nil
	}
	for {
		if r.uncaught != nil {
			return nil, r.uncaught
		}
		switch p.State() {
		case goja.PromiseStateFulfilled:
			return p.Result(), nil
		case goja.PromiseStateRejected:
			if hit := r.guard.hit.Load(); hit != nil {
				return nil, hit
			}
			return nil, r.scriptError(p.Result())
		}
		if err := r.turn(); err != nil {
			if errors.Is(err, errNothingPending) {
				return nil, ErrUnsettled
			}
			return nil, err
		}
	}
}

// next waits for one host answer and settles its promise.
func (r *runner) next() error { return r.nextAnswer(time.Time{}) }

// nextAnswer waits for one host answer (until the time given, when not
// zero) and settles its promise.
func (r *runner) nextAnswer(until time.Time) error {
	a, err := r.link.recv(r.guard.tripped, until)
	if errors.Is(err, errRecvTimeout) {
		return err
	}
	if hit := r.guard.hit.Load(); hit != nil {
		return hit
	}
	if err != nil {
		return err
	}
	pc, ok := r.pending[a.ID]
	if !ok {
		return nil // an answer to an earlier invocation's call
	}
	delete(r.pending, a.ID)
	if a.Fatal != nil {
		r.guard.trip(a.Fatal)
		return a.Fatal
	}
	if a.Error != "" {
		err = pc.reject(r.newError(a.Error))
	} else {
		err = r.resolveAnswer(pc, a.Result)
	}
	if err != nil {
		return r.classify(err)
	}
	return nil
}

func (r *runner) resolveAnswer(pc *pendingCall, result json.RawMessage) error {
	if len(result) > r.limits.ResponseBytes {
		le := bytesLimit(LimitResponse, r.limits.ResponseBytes)
		r.guard.trip(le)
		return le
	}
	v, err := r.parseJSON(result)
	if err != nil {
		return pc.reject(r.newError("malformed host answer"))
	}
	if pc.wrap != nil {
		v = pc.wrap(v)
	}
	return pc.resolve(v)
}

// callGo runs f inside a goja call so that plugin code it triggers
// (getters, toJSON, Proxy traps) throws and interrupts as errors instead of
// panicking through the host.
func (r *runner) callGo(f func() error) error {
	r.goFn, r.goErr = f, nil
	if _, err := r.trampoline(goja.Undefined()); err != nil {
		return err
	}
	return r.goErr
}

// parseJSON turns host-supplied JSON into plain JS values (never reflected
// Go maps). Empty input is undefined.
func (r *runner) parseJSON(raw json.RawMessage) (goja.Value, error) {
	if len(raw) == 0 {
		return goja.Undefined(), nil
	}
	return decodeJSON(r.rt, raw, MaxJSONDepth)
}

// MaxJSONDepth bounds the nesting of JSON entering the isolate (events,
// answers, fetch bodies); the decoder recurses per level. CheckJSON applies
// the same rule in the server, before anything is sent to a worker.
const MaxJSONDepth = 512

// newError builds an Error with the original constructor (plugin code may
// have replaced the global one).
func (r *runner) newError(msg string) goja.Value {
	o, err := r.rt.New(r.n.errorCtor, r.rt.ToValue(msg))
	if err != nil {
		return r.rt.ToValue(msg)
	}
	return o
}

// syntaxError is what response.json() rejects with for a malformed body.
func (r *runner) syntaxError(msg string) goja.Value {
	e := r.newError(msg)
	if o, ok := e.(*goja.Object); ok {
		_ = o.DefineDataProperty("name", r.rt.ToValue("SyntaxError"), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	return e
}

// classify turns what goja returned into the invocation's error. A limit
// the watchdog hit wins over whatever error it caused.
func (r *runner) classify(err error) error {
	if hit := r.guard.hit.Load(); hit != nil {
		return hit
	}
	// A type switch, not errors.As: goja's Exception.Unwrap reads
	// properties of the thrown object, which is plugin code.
	switch e := err.(type) {
	case *goja.InterruptedError:
		if v, ok := e.Value().(error); ok {
			return v
		}
		return fmt.Errorf("sandbox: interrupted: %v", e.Value())
	case *goja.StackOverflowError:
		le := stackLimit(r.limits.StackFrames)
		r.guard.trip(le)
		return le
	case *goja.Exception:
		return r.scriptError(e.Value())
	case *goja.CompilerSyntaxError:
		return &ScriptError{Name: "SyntaxError", Message: truncate(e.Error(), maxMessageBytes)}
	}
	return err
}

// scriptError stringifies a thrown value. Reading name/message/stack or
// calling toString is plugin code: it runs under the limits, and if it
// throws or loops the message says so instead.
func (r *runner) scriptError(v goja.Value) error {
	se := &ScriptError{}
	err := r.callGo(func() error {
		o, ok := v.(*goja.Object)
		if !ok || o.ClassName() != "Error" {
			se.Message = truncate(v.String(), maxMessageBytes)
			return nil
		}
		se.Name = primitiveString(o.Get("name"))
		se.Message = truncate(primitiveString(o.Get("message")), maxMessageBytes)
		se.Stack = truncate(primitiveString(o.Get("stack")), maxMessageBytes)
		return nil
	})
	if hit := r.guard.hit.Load(); hit != nil {
		return hit
	}
	if err != nil {
		return &ScriptError{Message: "uncaught exception (reading its message threw)"}
	}
	// Frames of the sandbox's own code say nothing to the plugin author.
	se.Stack = strings.TrimSpace(se.Stack)
	return se
}

// primitiveString stringifies strings and numbers only; objects would run
// more plugin code for no benefit to the message.
func primitiveString(v goja.Value) string {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return ""
	}
	if _, ok := v.(*goja.Object); ok {
		return ""
	}
	if _, ok := v.(*goja.Symbol); ok {
		return ""
	}
	return v.String()
}

// isGojaError reports whether err is one of goja's exception types, which
// must never go through errors.Is/As: Exception.Unwrap reads properties of
// the thrown object, which is plugin code.
func isGojaError(err error) bool {
	switch err.(type) {
	case *goja.Exception, *goja.InterruptedError, *goja.StackOverflowError:
		return true
	}
	return false
}
