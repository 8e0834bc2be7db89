package plugins

import (
	"fmt"
	"slices"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/sandbox"
)

// CheckExports compares the hooks and routes an installed bundle's script
// exports with those its manifest declares (see ExportProblems).
func CheckExports(m *manifest.Manifest, manifestJSON []byte, ex *sandbox.Exports) []manifest.Problem {
	var hooks, routes []string
	for _, h := range m.Hooks {
		hooks = append(hooks, string(h.Name))
	}
	for _, r := range m.Routes {
		routes = append(routes, r.Name)
	}
	return ExportProblems(manifestJSON, "plugin.js", hooks, routes, ex)
}

// ExportProblems reports the differences between the hook and route names a
// manifest declares (in manifest order; "" keeps an unreadable entry's index)
// and those the script named source exports. Both a declared hook the code
// lacks and an exported one the manifest does not declare are problems,
// located in manifest.json because that is where the author fixes either.
// `pilcrow plugin validate` and install share it, so both report the same.
func ExportProblems(manifestJSON []byte, source string, hooks, routes []string, ex *sandbox.Exports) []manifest.Problem {
	out := compareExports(manifestJSON, source, "hook", "/hooks", hooks, ex.Hooks)
	return append(out, compareExports(manifestJSON, source, "route", "/routes", routes, ex.Routes)...)
}

func compareExports(src []byte, source, kind, pointer string, declared, exported []string) []manifest.Problem {
	var out []manifest.Problem
	for i, name := range declared {
		if name == "" || slices.Contains(exported, name) {
			continue
		}
		out = append(out, manifest.ProblemAt(src, fmt.Sprintf("%s/%d", pointer, i), fmt.Sprintf(
			"%s %q is declared but %s does not export it: add it to the default export's %ss, or remove it here",
			kind, name, source, kind)))
	}
	for _, name := range exported {
		if slices.Contains(declared, name) {
			continue
		}
		msg := fmt.Sprintf("%s %q is exported by %s but not declared here: declare it, or remove it from the code", kind, name, source)
		if kind == "hook" && !manifest.HookName(name).Known() {
			msg = fmt.Sprintf("%s exports hook %q, which is not a Pilcrow hook (see docs/plugins.md for the list)", source, name)
		}
		out = append(out, manifest.ProblemAt(src, pointer, msg))
	}
	return out
}
