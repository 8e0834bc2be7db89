package plugins

import (
	"fmt"
	"slices"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/sandbox"
)

// CheckExports compares the hooks and routes a plugin's script exports with
// those its manifest declares. Both a declared hook the code lacks and an
// exported hook the manifest does not declare are problems, located in
// manifest.json because that is where the author fixes either. `pilcrow plugin
// validate` and install share it, so both report the same thing.
func CheckExports(m *manifest.Manifest, manifestJSON []byte, ex *sandbox.Exports) []manifest.Problem {
	var hooks, routes []string
	for _, h := range m.Hooks {
		hooks = append(hooks, string(h.Name))
	}
	for _, r := range m.Routes {
		routes = append(routes, r.Name)
	}
	out := compareExports(manifestJSON, "hook", "/hooks", hooks, ex.Hooks)
	return append(out, compareExports(manifestJSON, "route", "/routes", routes, ex.Routes)...)
}

func compareExports(src []byte, kind, pointer string, declared, exported []string) []manifest.Problem {
	var out []manifest.Problem
	for i, name := range declared {
		if !slices.Contains(exported, name) {
			out = append(out, manifest.ProblemAt(src, fmt.Sprintf("%s/%d", pointer, i), fmt.Sprintf(
				"%s %q is declared but the script does not export it: add it to the default export's %ss, or remove it here", kind, name, kind)))
		}
	}
	for _, name := range exported {
		if !slices.Contains(declared, name) {
			out = append(out, manifest.ProblemAt(src, pointer, fmt.Sprintf(
				"the script exports %s %q but the manifest does not declare it: declare it here, or remove it from the code", kind, name)))
		}
	}
	return out
}
