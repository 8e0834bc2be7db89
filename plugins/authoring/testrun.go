package authoring

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"

	"github.com/pilcrow-cms/pilcrow/sandbox"
)

// `pilcrow plugin test` (docs/plugins.md, "Tests"): each test/*.test.ts|js
// is bundled like the plugin (its imports confined to the folder) and run
// in a goja runtime of its own in the CLI, after the harness that defines
// test, expect and plugin. The test code is the author's, run on the
// author's machine, and its runtime has nothing but that harness: no files,
// no network. The plugin itself never runs here: plugin.hook and
// plugin.route go through the Invoker, which runs it in the sandbox.

//go:embed harness/harness.js
var harnessJS string

// TestTypings declares the test API for TypeScript (pilcrow-test.d.ts).
//
//go:embed templates/plugin/pilcrow-test.d.ts
var TestTypings []byte

// TestFile is one built test file.
type TestFile struct {
	// File is relative to the plugin folder: "test/plugin.test.ts".
	File   string
	Script []byte
}

// TestPatterns are the test files BuildTests looks for, in the test folder.
var TestPatterns = []string{"*.test.ts", "*.test.js"}

// ErrNoTests means the plugin folder has no test/*.test.ts|js.
var ErrNoTests = errors.New("no test files")

// BuildTests finds and bundles the plugin folder's test files, in name
// order. A file that fails to build makes a *BuildError holding every
// file's messages.
func BuildTests(ctx context.Context, dir string) ([]TestFile, error) {
	root, err := pluginRoot(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, p := range TestPatterns {
		m, err := filepath.Glob(filepath.Join(root, "test", p))
		if err != nil {
			return nil, err
		}
		for _, f := range m {
			if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
				files = append(files, path.Join("test", filepath.Base(f)))
			}
		}
	}
	slices.Sort(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("%w in %s: add test/*.test.ts (see docs/plugins.md, \"Tests\")", ErrNoTests, dir)
	}
	var out []TestFile
	var msgs []Message
	for _, f := range files {
		// A test file is a script, not a module anything imports: bundled
		// from itself, with no global assigned.
		o := namespaceShape(esbuildOptions(root, f, Options{}), f)
		o.GlobalName = ""
		// Anchors the map's sources at the folder ("test/x.test.ts").
		o.Outfile = filepath.Join(root, "test.js")
		res, err := runEsbuild(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("build %s: %w", f, err)
		}
		if len(res.Errors) > 0 {
			msgs = append(msgs, fromEsbuild(res.Errors, SeverityError)...)
			continue
		}
		if len(res.OutputFiles) != 1 {
			return nil, fmt.Errorf("build %s: esbuild produced %d output files, want 1", f, len(res.OutputFiles))
		}
		out = append(out, TestFile{File: f, Script: res.OutputFiles[0].Contents})
	}
	if len(msgs) > 0 {
		return nil, &BuildError{Messages: msgs}
	}
	return out, nil
}

// TestInvoke is one plugin.hook or plugin.route call of a test.
type TestInvoke struct {
	Kind  string          // sandbox.KindHook or sandbox.KindRoute
	Name  string          // the hook or route
	Event json.RawMessage // nil: the runner's default event
	// Settings and Deny are the call's options ({settings, deny}).
	Settings map[string]any `json:"settings"`
	Deny     []string       `json:"deny"`
}

// TestOutcome is what an invocation produced, as the harness reads it:
// {ok, result, error: {kind, message, limit, stack}, logs}.
type TestOutcome = json.RawMessage

// Invoker runs one invocation of the plugin for a test.
type Invoker func(ctx context.Context, call TestInvoke) TestOutcome

// TestResult is one test's outcome.
type TestResult struct {
	File     string
	Name     string
	Passed   bool
	Duration time.Duration
	// Message says why the test failed; At is where, in the author's files
	// ("test/plugin.test.ts:14:5"), when known; Detail is more (the
	// plugin's own stack when plugin.hook rejected).
	Message, At, Detail string
}

// DefaultTestTimeout bounds one test, so a test that never returns ends.
const DefaultTestTimeout = 30 * time.Second

// TestRunOptions tune RunTestFile.
type TestRunOptions struct {
	// Timeout bounds one test (default DefaultTestTimeout).
	Timeout time.Duration
	// Match, when set, runs only the tests whose name contains it.
	Match string
}

// RunTestFile runs the tests of one file in order, calling report after
// each. A file whose top level fails is reported as one failed result named
// after the file.
func RunTestFile(ctx context.Context, tf TestFile, invoke Invoker, opts TestRunOptions, report func(TestResult)) {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTestTimeout
	}
	rt := goja.New()
	rt.SetFieldNameMapper(goja.UncapFieldNameMapper())
	loadFailed := func(err error) {
		r := TestResult{File: tf.File, Name: "(loading " + tf.File + ")"}
		r.Message, r.At, r.Detail = describeFailure(tf, err)
		report(r)
	}
	stop := context.AfterFunc(ctx, func() { rt.Interrupt(ctx.Err()) })
	defer stop()

	harness := rt.NewObject()
	_ = harness.Set("invoke", func(kind, name, event, options string) string {
		call := TestInvoke{Kind: kind, Name: name}
		if event != "" {
			call.Event = json.RawMessage(event)
		}
		_ = json.Unmarshal([]byte(options), &call) // the harness always sends an object
		if kind != sandbox.KindHook && kind != sandbox.KindRoute {
			panic(rt.NewTypeError("unknown invocation kind %q", kind))
		}
		return string(invoke(ctx, call))
	})
	_ = rt.Set("__harness", harness)
	if _, err := rt.RunScript("harness.js", harnessJS); err != nil {
		loadFailed(fmt.Errorf("the test harness failed to start: %w", err))
		return
	}
	// Source maps stay disabled: goja's loader would read the file a
	// sourceMappingURL names. Positions are mapped afterwards, from the
	// inline map only.
	prog, err := compileTest(tf.Script)
	if err != nil {
		loadFailed(err)
		return
	}
	if _, err := rt.RunProgram(prog); err != nil {
		loadFailed(err)
		return
	}
	tests := rt.Get("__tests").ToObject(rt)
	n := int(tests.Get("length").ToInteger())
	for i := range n {
		spec := tests.Get(strconv.Itoa(i)).ToObject(rt)
		fn, ok := goja.AssertFunction(spec.Get("fn"))
		r := TestResult{File: tf.File, Name: spec.Get("name").String()}
		if opts.Match != "" && !strings.Contains(r.Name, opts.Match) {
			continue
		}
		start := time.Now()
		timer := time.AfterFunc(timeout, func() { rt.Interrupt(fmt.Errorf("the test ran longer than %s", timeout)) })
		var err error
		if !ok {
			err = errors.New("not a function")
		} else {
			err = settleTest(rt, fn)
		}
		timer.Stop()
		rt.ClearInterrupt()
		r.Duration = time.Since(start)
		if err == nil {
			r.Passed = true
		} else {
			r.Message, r.At, r.Detail = describeFailure(tf, err)
		}
		report(r)
		if ctx.Err() != nil {
			return
		}
	}
}

func compileTest(script []byte) (*goja.Program, error) {
	tree, err := parser.ParseFile(nil, "test.js", string(script), 0, parser.WithDisableSourceMaps)
	if err != nil {
		return nil, err
	}
	return goja.CompileAST(tree, false)
}

// settleTest calls a test function and waits for the promise it returns. Every
// plugin.hook and plugin.route answers synchronously, so once the call (and
// the promise jobs goja runs after it) returns, a promise still pending can
// never settle.
func settleTest(rt *goja.Runtime, fn goja.Callable) error {
	v, err := fn(goja.Undefined())
	if err != nil {
		return err
	}
	p, ok := v.Export().(*goja.Promise)
	if !ok {
		return nil
	}
	switch p.State() {
	case goja.PromiseStateFulfilled:
		return nil
	case goja.PromiseStateRejected:
		return &rejection{value: p.Result()}
	}
	return errors.New("the test's promise never settled: only plugin.hook, plugin.route and promises made from them can be awaited (there are no timers)")
}

type rejection struct{ value goja.Value }

func (r *rejection) Error() string { return r.value.String() }

// describeFailure turns an exception into the message, the position in the
// author's files and any detail.
func describeFailure(tf TestFile, err error) (msg, at, detail string) {
	var v goja.Value
	var ex *goja.Exception
	var rej *rejection
	var interrupted *goja.InterruptedError
	switch {
	case errors.As(err, &ex):
		v = ex.Value()
	case errors.As(err, &rej):
		v = rej.value
	case errors.As(err, &interrupted):
		return fmt.Sprint(interrupted.Value()), "", ""
	default:
		return sandbox.MapSourcePositions(tf.Script, "test.js", err.Error()), "", ""
	}
	o, ok := v.(*goja.Object)
	if !ok || o.ClassName() != "Error" {
		return "threw " + v.String(), "", ""
	}
	name := o.Get("name").String()
	msg = o.Get("message").String()
	switch name {
	case "AssertionError":
	case "PluginError":
		if s := o.Get("pluginStack"); s != nil && !goja.IsUndefined(s) {
			detail = s.String()
		}
	default:
		msg = name + ": " + msg
	}
	stack := ""
	if s := o.Get("stack"); s != nil && !goja.IsUndefined(s) {
		stack = sandbox.MapSourcePositions(tf.Script, "test.js", s.String())
	}
	// The first frame in the author's files: not the harness, not a
	// position left unmapped in the bundle.
	for _, line := range strings.Split(stack, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "at ") || strings.Contains(line, "harness.js") || strings.Contains(line, "test.js:") {
			continue
		}
		if i := strings.LastIndexByte(line, '('); i >= 0 && strings.HasSuffix(line, ")") {
			at = line[i+1 : len(line)-1]
		} else {
			at = strings.TrimPrefix(line, "at ")
		}
		break
	}
	return msg, at, detail
}
