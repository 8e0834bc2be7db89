package authoring

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/evanw/esbuild/pkg/api"
)

// confinePlugin keeps the bundle inside the plugin folder. A plugin is
// reviewed and packed as one folder, so code from elsewhere on the author's
// disk must never slip into it. Two checks:
//   - at resolve time, relative and absolute import paths are checked
//     lexically, so the error points at the offending import statement;
//   - at load time, every file's real path (symlinks evaluated by esbuild)
//     must be under the folder, which also catches bare imports that esbuild
//     found in a node_modules above the folder, tsconfig path aliases and
//     symlinks pointing out.
func confinePlugin(root string) api.Plugin {
	return api.Plugin{
		Name: "pilcrow-confine",
		Setup: func(b api.PluginBuild) {
			b.OnResolve(api.OnResolveOptions{Filter: ".*"}, func(args api.OnResolveArgs) (api.OnResolveResult, error) {
				return resolveConfined(root, args), nil
			})
			b.OnLoad(api.OnLoadOptions{Filter: ".*", Namespace: "file"}, func(args api.OnLoadArgs) (api.OnLoadResult, error) {
				if !within(root, args.Path) {
					return api.OnLoadResult{Errors: []api.Message{{
						Text: fmt.Sprintf("%s is outside the plugin folder; a plugin may only import its own files and packages in its own node_modules", args.Path),
					}}}, nil
				}
				// No contents: esbuild loads the file itself.
				return api.OnLoadResult{}, nil
			})
		},
	}
}

func resolveConfined(root string, args api.OnResolveArgs) api.OnResolveResult {
	if args.Kind == api.ResolveEntryPoint {
		return api.OnResolveResult{}
	}
	p := args.Path
	fail := func(format string, a ...any) api.OnResolveResult {
		return api.OnResolveResult{Errors: []api.Message{{Text: fmt.Sprintf(format, a...)}}}
	}
	switch {
	case strings.HasPrefix(p, "node:"):
		return fail("%q is a Node.js built-in module; plugins run in the Pilcrow sandbox, which has no Node.js APIs (use ctx instead)", p)
	case filepath.IsAbs(p) || strings.HasPrefix(p, "/"):
		return fail("absolute import %q is not allowed; import files relative to the plugin folder", p)
	case p == "." || p == ".." || strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../"):
		if !within(root, filepath.Join(args.ResolveDir, filepath.FromSlash(p))) {
			return fail("import %q escapes the plugin folder; a plugin may only import its own files", p)
		}
	}
	// Bare specifiers resolve through node_modules; the load-time check
	// confirms they were found inside the folder.
	return api.OnResolveResult{}
}

// within reports whether path is root or below it.
func within(root, path string) bool {
	rel, err := filepath.Rel(root, filepath.Clean(path))
	if err != nil {
		return false
	}
	return rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel))
}

// nodeBuiltins are Node.js modules authors commonly reach for by habit.
var nodeBuiltins = map[string]bool{
	"assert": true, "buffer": true, "child_process": true, "crypto": true, "dns": true,
	"events": true, "fs": true, "fs/promises": true, "http": true, "https": true, "net": true,
	"os": true, "path": true, "process": true, "querystring": true, "stream": true,
	"timers": true, "tls": true, "url": true, "util": true, "worker_threads": true, "zlib": true,
}

// resolveHint extends esbuild's "Could not resolve" error with what to do in
// a plugin; esbuild's own notes suggest platform "node", which is wrong here.
func resolveHint(text string) string {
	name, ok := strings.CutPrefix(text, `Could not resolve "`)
	if !ok {
		return text
	}
	name, ok = strings.CutSuffix(name, `"`)
	if !ok {
		return text
	}
	switch {
	case nodeBuiltins[name]:
		return text + ": it is a Node.js built-in module, and plugins run in the Pilcrow sandbox without Node.js APIs (use ctx instead)"
	case strings.HasPrefix(name, ".") || strings.HasPrefix(name, "/"):
		return text + ": no such file in the plugin folder"
	default:
		return text + ": install the package into the plugin's own node_modules (npm install in the plugin folder)"
	}
}
