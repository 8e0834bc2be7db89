package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/plugins"
	"github.com/pilcrow-cms/pilcrow/sandbox"
)

// inspector evaluates a script in the sandbox and lists its exports;
// *sandbox.Pool implements it.
type inspector interface {
	Inspect(ctx context.Context, script []byte) (*sandbox.Exports, error)
}

// checkExports evaluates the plugin's script in a sandbox worker (parsing
// untrusted code in this process could exhaust its stack) and compares the
// hooks and routes it exports with the manifest's. A script that does not
// evaluate, an exported hook or route the manifest does not declare, and a
// declared one the script does not export are all problems. The error is for
// failures of the sandbox itself (exit 2).
func checkExports(ctx context.Context, in inspector, l *loadedPlugin) error {
	if l.script == nil {
		return nil
	}
	ex, err := in.Inspect(ctx, l.script)
	if err != nil {
		if !scriptsFault(err) {
			return fmt.Errorf("check the script in the sandbox: %w", err)
		}
		l.diags = append(l.diags, diagnostic{File: l.entry, Severity: severityError,
			Message: "the built script does not evaluate in the sandbox: " + err.Error()})
		return nil
	}
	hooks, routes, ok := declaredExports(l)
	if !ok {
		return nil
	}
	// The same comparison install makes, so both report the same problems.
	problems := plugins.ExportProblems(l.manifestJSON, l.entry, hooks, routes, ex)
	if l.manifest != nil {
		problems = append(problems, plugins.HookOptionProblems(l.manifest, l.manifestJSON, l.entry, ex)...)
	}
	for _, p := range problems {
		l.diags = append(l.diags, diagnostic{File: p.File, Path: p.Path, Line: p.Line, Column: p.Column,
			Severity: severityError, Message: p.Message})
	}
	return nil
}

// scriptsFault reports whether an Inspect error is the script's doing: a
// syntax error or a throw at the top level, a limit, a worker it crashed, no
// default export. Everything else (an interrupt, a worker that could not
// start) is the environment's.
func scriptsFault(err error) bool {
	var limit *sandbox.LimitError
	var script *sandbox.ScriptError
	switch {
	case errors.As(err, &limit), errors.As(err, &script),
		errors.Is(err, sandbox.ErrBadScript), errors.Is(err, sandbox.ErrBadValue), errors.Is(err, sandbox.ErrUnsettled):
		return true
	case errors.Is(err, sandbox.ErrWorkerCrashed):
		// The sandbox has no sentinel for a worker that never started; its
		// message is the only way to tell that from a crash the script caused.
		return !strings.Contains(err.Error(), "worker did not start")
	}
	return false
}

// declaredExports returns the hook and route names the manifest declares, in
// manifest order. When the manifest has problems it still reads what it can,
// so mismatches are reported together with the manifest's own problems;
// unknown hook names are left out there, since Parse already reported them.
func declaredExports(l *loadedPlugin) (hooks, routes []string, ok bool) {
	var hs []manifest.Hook
	var rs []manifest.Route
	if l.manifest != nil {
		hs, rs = l.manifest.Hooks, l.manifest.Routes
	} else {
		var loose struct {
			Hooks  []manifest.Hook  `json:"hooks"`
			Routes []manifest.Route `json:"routes"`
		}
		if json.Unmarshal(l.manifestJSON, &loose) != nil {
			return nil, nil, false
		}
		for _, h := range loose.Hooks {
			if !h.Name.Known() {
				h.Name = "" // keeps the indexes of the others right
			}
			hs = append(hs, h)
		}
		rs = loose.Routes
	}
	for _, h := range hs {
		hooks = append(hooks, string(h.Name))
	}
	for _, r := range rs {
		routes = append(routes, r.Name)
	}
	return hooks, routes, true
}
