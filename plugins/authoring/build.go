package authoring

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/evanw/esbuild/pkg/api"
)

// GlobalName is the global the built script assigns the plugin module to;
// the sandbox reads the plugin's default export from globalThis.__pilcrow.default.
const GlobalName = "__pilcrow"

// EntryCandidates are the plugin source entries, in the order Build tries them.
var EntryCandidates = []string{"src/plugin.ts", "src/plugin.js"}

// ErrNoEntry means the plugin folder has none of EntryCandidates.
var ErrNoEntry = errors.New("plugin source entry not found")

// Result is a successful build.
type Result struct {
	// Script is the bundled ES2017 IIFE, ready for goja.
	Script []byte
	// Entry is the source entry used, relative to the folder ("src/plugin.ts").
	Entry string
	// Warnings did not fail the build but deserve the author's attention.
	Warnings []Message
	// Sources are the plugin's own files the bundle read, relative to the
	// folder with forward slashes (its node_modules left out), sorted.
	Sources []string
}

// Options tune Build. The zero value is the default: readable output with an
// inline source map.
type Options struct {
	// Minify shrinks the script (whitespace, identifiers, syntax).
	Minify bool
	// OmitSourceMap drops the inline source map. With it, stack traces are
	// mapped to the original src/*.ts files (on the server, after the
	// worker answered); without it, they name positions in the bundle.
	OmitSourceMap bool
}

// Build bundles the plugin folder dir with the default Options.
func Build(ctx context.Context, dir string) (*Result, error) {
	return BuildWithOptions(ctx, dir, Options{})
}

// BuildWithOptions bundles the plugin folder's source entry (src/plugin.ts or
// else src/plugin.js) and everything it imports into one script. Imports must
// stay inside the folder: relative files and packages in the folder's own
// node_modules. A failed build returns a *BuildError (wrapping ErrBuildFailed)
// holding every problem with its file, line and column.
func BuildWithOptions(ctx context.Context, dir string, opts Options) (*Result, error) {
	root, err := pluginRoot(dir)
	if err != nil {
		return nil, err
	}
	entry, err := findEntry(root)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("build %s: %w", dir, err)
	}

	o := esbuildOptions(root, entry, opts)
	result, err := runEsbuild(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", dir, err)
	}
	inputs, format, err := metafileInputs(result.Metafile, entry)
	if err == nil && format == "cjs" {
		// A CommonJS entry's default export is module.exports.default;
		// importing it from an ES module would give module.exports.
		result, err = runEsbuild(ctx, namespaceShape(o, entry))
		if err != nil {
			return nil, fmt.Errorf("build %s: %w", dir, err)
		}
		inputs, _, err = metafileInputs(result.Metafile, entry)
	}
	warnings := fromEsbuild(slices.DeleteFunc(result.Warnings, fromEntryModule), SeverityWarning)
	if len(result.Errors) > 0 {
		return nil, &BuildError{Messages: append(fromEsbuild(result.Errors, SeverityError), warnings...)}
	}
	if len(result.OutputFiles) != 1 {
		return nil, fmt.Errorf("build %s: esbuild produced %d output files, want 1", dir, len(result.OutputFiles))
	}
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", dir, err)
	}
	problems, err := lintSources(root, inputs)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", dir, err)
	}
	if msg, err := checkDefaultExport(ctx, root, entry); err != nil {
		return nil, fmt.Errorf("build %s: %w", dir, err)
	} else if msg != nil {
		problems = append(problems, *msg)
	}
	var errs []Message
	for _, p := range problems {
		if p.Severity == SeverityError {
			errs = append(errs, p)
		} else {
			warnings = append(warnings, p)
		}
	}
	if len(errs) > 0 {
		return nil, &BuildError{Messages: append(errs, warnings...)}
	}
	return &Result{Script: result.OutputFiles[0].Contents, Entry: entry, Warnings: warnings, Sources: ownSources(root, inputs)}, nil
}

// pluginRoot resolves dir to an absolute path with symlinks evaluated, so the
// containment checks compare like with like (esbuild reports real paths).
func pluginRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("plugin folder %s: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("plugin folder %s: %w", dir, err)
	}
	info, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("plugin folder %s: %w", dir, err)
	}
	if !info.IsDir() {
		return "", fmt.Errorf("plugin folder %s: not a directory", dir)
	}
	return real, nil
}

// findEntry returns the first of EntryCandidates present as a regular file.
func findEntry(root string) (string, error) {
	for _, c := range EntryCandidates {
		info, err := os.Stat(filepath.Join(root, filepath.FromSlash(c)))
		if err == nil && info.Mode().IsRegular() {
			return c, nil
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("plugin source %s: %w", c, err)
		}
	}
	return "", fmt.Errorf("%w in %s: create src/plugin.ts or src/plugin.js", ErrNoEntry, root)
}

// entryModule names the generated module the bundle starts from (see
// esbuildOptions).
const entryModule = "pilcrow:entry"

// fromEntryModule reports a message about the generated entry module: an
// entry without a default export makes esbuild warn there that the import
// is undefined, which checkDefaultExport reports as an error of the
// author's file instead.
func fromEntryModule(m api.Message) bool {
	return m.Location != nil && m.Location.File == entryModule
}

// esbuildOptions bundles from a generated module that reads the entry's
// default export and assigns {default: it} to globalThis.__pilcrow. The
// sandbox reads nothing else of the module, and this shape costs the plugin
// nothing at run time: esbuild hoists the entry's code and refers to its
// default export directly. The module-namespace shape (an IIFE with
// GlobalName, namespaceShape) builds the entry's namespace object on every
// invocation instead — esbuild's __export and __toCommonJS helpers, a for-in
// and a for-of over it, a getter per export — which was half of a trivial
// hook's isolate time (BenchmarkInvokeInProcess/trivialBundled).
func esbuildOptions(root, entry string, opts Options) api.BuildOptions {
	o := api.BuildOptions{
		Stdin: &api.StdinOptions{
			Contents:   fmt.Sprintf("import * as plugin from %q;\nglobalThis.%s = { default: plugin.default };\n", "./"+entry, GlobalName),
			ResolveDir: root,
			Sourcefile: entryModule,
			Loader:     api.LoaderJS,
		},
		AbsWorkingDir: root,
		// Never written (Write is false); it only anchors the source map's
		// "sources" so they read "src/plugin.ts".
		Outfile:  filepath.Join(root, "plugin.js"),
		Write:    false,
		Bundle:   true,
		Metafile: true,
		Format:   api.FormatIIFE,
		// goja runs ES2017 unchanged; esbuild lowers anything newer (optional
		// chaining, ??, class fields, object spread, async generators) and
		// reports syntax it cannot lower (top-level await) as an error.
		Target:   api.ES2017,
		Platform: api.PlatformNeutral,
		// The neutral platform sets no main fields; these let ordinary npm
		// packages in the plugin's node_modules resolve, to their builds
		// for web workers and browsers where they have one: the sandbox has
		// the web globals (crypto.getRandomValues, TextEncoder, URL…), not
		// Node's modules.
		MainFields: []string{"browser", "module", "main"},
		Conditions: []string{"worker", "browser"},
		Charset:    api.CharsetUTF8,
		LogLevel:   api.LogLevelSilent,
		LogLimit:   0,
		// The sandbox has no CSS or asset pipeline: only code, JSON and text.
		Loader: map[string]api.Loader{
			".css":        api.LoaderNone,
			".module.css": api.LoaderNone,
		},
		LegalComments: api.LegalCommentsNone,
		Plugins:       []api.Plugin{confinePlugin(root)},
	}
	o.Tsconfig, o.TsconfigRaw = tsconfigFor(root)
	if !opts.OmitSourceMap {
		// The inline map travels inside plugin.js: the server maps the
		// positions of a thrown error's stack through it to the author's
		// TypeScript (sandbox/sourcemap.go). The sandbox's workers compile
		// with source maps disabled, so a hostile sourceMappingURL can never
		// make them read a file. Sources content is left out: positions are
		// all a map needs.
		o.Sourcemap = api.SourceMapInline
		o.SourcesContent = api.SourcesContentExclude
	}
	if opts.Minify {
		o.MinifyWhitespace = true
		o.MinifyIdentifiers = true
		o.MinifySyntax = true
	}
	return o
}

// tsconfigFor returns the plugin's own tsconfig.json, or an empty config so
// that a folder without one does not pick up a parent directory's: the build
// depends on the plugin folder only.
func tsconfigFor(root string) (path, raw string) {
	p := filepath.Join(root, "tsconfig.json")
	if _, err := os.Stat(p); err == nil {
		return p, ""
	}
	return "", "{}"
}

// runEsbuild runs one build through an esbuild context so ctx can cancel it.
func runEsbuild(ctx context.Context, o api.BuildOptions) (api.BuildResult, error) {
	bctx, cerr := api.Context(o)
	if cerr != nil {
		return api.BuildResult{Errors: cerr.Errors}, nil
	}
	defer bctx.Dispose()

	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			bctx.Cancel()
		case <-done:
		}
	}()
	result := bctx.Rebuild()
	if err := ctx.Err(); err != nil {
		return api.BuildResult{}, err
	}
	return result, nil
}

// namespaceShape is o building the entry itself as an IIFE whose module
// namespace object becomes globalThis.__pilcrow (for CommonJS entries).
func namespaceShape(o api.BuildOptions, entry string) api.BuildOptions {
	o.Stdin = nil
	o.EntryPoints = []string{entry}
	o.GlobalName = GlobalName
	return o
}

// metafileInputs lists the files the bundle read, relative to the folder
// (not the generated entry module), and the module format esbuild found
// the entry in ("esm", "cjs", or "" when it has no imports or exports).
func metafileInputs(metafile, entry string) ([]string, string, error) {
	var meta struct {
		Inputs map[string]struct {
			Format string `json:"format"`
		} `json:"inputs"`
	}
	if err := json.Unmarshal([]byte(metafile), &meta); err != nil {
		return nil, "", fmt.Errorf("read esbuild metafile: %w", err)
	}
	inputs := make([]string, 0, len(meta.Inputs))
	for in := range meta.Inputs {
		if in != entryModule {
			inputs = append(inputs, in)
		}
	}
	return inputs, meta.Inputs[entry].Format, nil
}

// checkDefaultExport makes sure the entry has a default export: without one
// the sandbox would find no hooks and every invocation would fail far from
// the cause. The IIFE bundle's metafile lists no exports, so the entry alone
// is parsed again as ESM, which does.
func checkDefaultExport(ctx context.Context, root, entry string) (*Message, error) {
	tsconfig, tsconfigRaw := tsconfigFor(root)
	result, err := runEsbuild(ctx, api.BuildOptions{
		EntryPoints:   []string{entry},
		AbsWorkingDir: root,
		Outfile:       filepath.Join(root, "plugin.js"),
		Bundle:        false,
		Write:         false,
		Metafile:      true,
		Format:        api.FormatESModule,
		Target:        api.ESNext,
		Platform:      api.PlatformNeutral,
		LogLevel:      api.LogLevelSilent,
		Tsconfig:      tsconfig,
		TsconfigRaw:   tsconfigRaw,
	})
	if err != nil {
		return nil, err
	}
	if len(result.Errors) > 0 {
		// The bundling pass already parsed this file successfully; an error
		// here is esbuild's, not the author's.
		return nil, fmt.Errorf("re-parse %s: %s", entry, result.Errors[0].Text)
	}
	var meta struct {
		Outputs map[string]struct {
			Exports []string `json:"exports"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(result.Metafile), &meta); err != nil {
		return nil, fmt.Errorf("read esbuild metafile: %w", err)
	}
	for _, out := range meta.Outputs {
		for _, e := range out.Exports {
			if e == "default" {
				return nil, nil
			}
		}
	}
	return &Message{
		File:     entry,
		Severity: SeverityError,
		Text:     "the plugin has no default export; add `export default { hooks: { … }, routes: { … } }`",
	}, nil
}

// ownSources keeps the inputs that are the plugin's own files: inside the
// folder and not under a node_modules.
func ownSources(root string, inputs []string) []string {
	var out []string
	for _, in := range inputs {
		in = filepath.ToSlash(in)
		if strings.HasPrefix(in, "node_modules/") || strings.Contains(in, "/node_modules/") ||
			!within(root, filepath.Join(root, filepath.FromSlash(in))) {
			continue
		}
		out = append(out, in)
	}
	slices.Sort(out)
	return out
}
