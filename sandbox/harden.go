package sandbox

import (
	"fmt"

	"github.com/dop251/goja"
)

const codeGenMessage = "code generation from strings is disabled in the Pilcrow sandbox"

// Programs that create one async (or generator) function each, to reach
// the runtime's AsyncFunction and GeneratorFunction prototypes.
var (
	asyncProbe     = goja.MustCompile("sandbox-probe.js", "(async function () {})", true)
	generatorProbe = goja.MustCompile("sandbox-probe.js", "(function* () {})", true)
)

// natives are builtins captured before plugin code runs, so the host's own
// use of them cannot be redirected by a plugin that overwrites globals.
type natives struct {
	errorCtor *goja.Object
	freeze    goja.Callable
}

// harden removes code-from-string from a fresh runtime before any plugin
// code runs: eval is deleted, and Function plus the hidden AsyncFunction and
// GeneratorFunction constructors — reachable through
// `(function(){}).constructor`, `(async function(){}).constructor`,
// `(function*(){}).constructor` and any host function's constructor — are
// replaced by a constructor that throws. `x instanceof Function` keeps
// working because the replacement's prototype is Function.prototype. goja
// has no async generators, so there is no AsyncGeneratorFunction to reach.
//
// goja creates the AsyncFunction and GeneratorFunction prototypes lazily,
// only when such a function is first created, and that costs tens of
// microseconds; a script without async (generator) functions cannot reach
// them, so they are poisoned only when the script's syntax creates them
// (see scanScript).
func harden(rt *goja.Runtime, s *script) (*natives, error) {
	poison := rt.ToValue(func(goja.ConstructorCall) *goja.Object {
		panic(rt.NewTypeError(codeGenMessage))
	}).(*goja.Object)
	fnProto, ok := rt.Get("Function").(*goja.Object).Get("prototype").(*goja.Object)
	if !ok {
		return nil, fmt.Errorf("sandbox: harden runtime: no Function.prototype")
	}
	protos := []*goja.Object{fnProto}
	for _, probe := range []struct {
		need bool
		prog *goja.Program
	}{{s.async, asyncProbe}, {s.generator, generatorProbe}} {
		if !probe.need {
			continue
		}
		fn, err := rt.RunProgram(probe.prog)
		if err != nil {
			return nil, fmt.Errorf("sandbox: harden runtime: %w", err)
		}
		protos = append(protos, fn.(*goja.Object).Prototype())
	}
	for _, proto := range protos {
		if err := proto.DefineDataProperty("constructor", poison, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE); err != nil {
			return nil, fmt.Errorf("sandbox: harden runtime: %w", err)
		}
	}
	if err := poison.DefineDataProperty("prototype", fnProto, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE); err != nil {
		return nil, fmt.Errorf("sandbox: harden runtime: %w", err)
	}
	global := rt.GlobalObject()
	if err := global.DefineDataProperty("Function", poison, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE); err != nil {
		return nil, fmt.Errorf("sandbox: harden runtime: %w", err)
	}
	if err := global.Delete("eval"); err != nil {
		return nil, fmt.Errorf("sandbox: harden runtime: %w", err)
	}
	n := &natives{}
	n.errorCtor, ok = rt.Get("Error").(*goja.Object)
	if !ok {
		return nil, fmt.Errorf("sandbox: harden runtime: no Error")
	}
	n.freeze, ok = goja.AssertFunction(rt.Get("Object").(*goja.Object).Get("freeze"))
	if !ok {
		return nil, fmt.Errorf("sandbox: harden runtime: no Object.freeze")
	}
	return n, nil
}
