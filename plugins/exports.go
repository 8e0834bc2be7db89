package plugins

import (
	"encoding/json"
	"fmt"
	"math"
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
	return append(ExportProblems(manifestJSON, "plugin.js", hooks, routes, ex), HookOptionProblems(m, manifestJSON, "plugin.js", ex)...)
}

// HookOptionProblems checks the options of hooks exported as objects
// {handler, priority?, timeoutMs?}: a handler function, a priority from 0 to
// 10000 and a timeoutMs from 1 to the wall-time limit, whole numbers.
func HookOptionProblems(m *manifest.Manifest, manifestJSON []byte, source string, ex *sandbox.Exports) []manifest.Problem {
	var out []manifest.Problem
	wall := m.EffectiveLimits(manifest.SiteDefaults).WallMs
	for _, name := range ex.Hooks {
		opts, ok := ex.HookOptions[name]
		if !ok {
			continue
		}
		add := func(format string, args ...any) {
			out = append(out, manifest.Problem{File: source, Path: "bundle:/" + source,
				Message: fmt.Sprintf("hook %q: ", name) + fmt.Sprintf(format, args...)})
		}
		if opts.NoHandler {
			add("exported as an object, it needs a handler function: {handler(event, ctx) { … }, priority?, timeoutMs?}")
		}
		if opts.Priority != nil {
			if p, ok := wholeNumber(opts.Priority); !ok || p < 0 || p > 10000 {
				add("priority must be a whole number from 0 to 10000, not %s", opts.Priority)
			}
		}
		if opts.TimeoutMs != nil {
			if t, ok := wholeNumber(opts.TimeoutMs); !ok || t < 1 || t > wall {
				add("timeoutMs must be a whole number from 1 to the wall-time limit of %d ms, not %s", wall, opts.TimeoutMs)
			}
		}
	}
	_ = manifestJSON
	return out
}

func wholeNumber(raw json.RawMessage) (int, bool) {
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f != math.Trunc(f) || math.Abs(f) > 1e9 {
		return 0, false
	}
	return int(f), true
}

// effectiveHook is a declared hook with the options its code exports where
// the manifest gives none: the manifest wins where both are given.
func effectiveHook(h manifest.Hook, opts map[string]sandbox.HookOptions) manifest.Hook {
	o, ok := opts[string(h.Name)]
	if !ok {
		return h
	}
	if !h.PrioritySet && o.Priority != nil {
		if p, ok := wholeNumber(o.Priority); ok {
			h.Priority = p
		}
	}
	if h.TimeoutMs == 0 && o.TimeoutMs != nil {
		if t, ok := wholeNumber(o.TimeoutMs); ok && t > 0 {
			h.TimeoutMs = t
		}
	}
	return h
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
