package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/pilcrow-cms/pilcrow/plugins/authoring"
)

const validateUsage = `Usage: pilcrow plugin validate PATH [--json]

Checks a plugin folder (manifest.json and src/plugin.ts|js) or a bundle (.zip)
and prints every problem at once:
  - manifest.json: syntax, unknown or duplicate keys, wrong types, the rules of
    docs/plugins.md (each as manifest.json:LINE:COL: /json/pointer: message);
  - a bundle's structure: size and entry caps, paths, links, duplicates;
  - a folder's build (as src/plugin.ts:LINE:COL: error: message);
  - that the script evaluates in the sandbox, and that the hooks and routes it
    exports are exactly the ones the manifest declares.
  - warnings (not errors) where a folder's own source uses a ctx API the
    manifest does not grant (src/plugin.ts:LINE:COL: warning: ctx.http.fetch
    needs the "network:request" capability, ...).

With --json it prints one object to standard output:
  {"valid": true|false, "plugin": "id@version",
   "problems": [{"file", "path", "line", "column", "message", "severity"}]}
file is relative to the plugin ("manifest.json", "src/plugin.ts", "" for the
bundle as a whole); path is a JSON pointer into manifest.json or
"bundle:/NAME"; line and column are 1-based, 0 when unknown; severity is
"error" or "warning" (warnings do not make a plugin invalid).

Exit status: 0 valid, 1 invalid, 2 usage or I/O error.

Flags:
`

func runPluginValidate(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pilcrow plugin validate", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the result as JSON on standard output")
	setUsage(fs, validateUsage)
	pos, code := parseArgs(fs, args, stderr, 1)
	if code >= 0 {
		return code
	}
	path := pos[0]
	prog := progress{w: stderr, name: "validate"}
	if *asJSON {
		prog.w = nil
	}
	l, code := validatePlugin(ctx, path, prog, authoring.Options{}, stderr)
	if code >= 0 {
		return code
	}
	if *asJSON {
		report := validationReport{Valid: l.valid(), Problems: l.diags}
		if report.Problems == nil {
			report.Problems = []diagnostic{}
		}
		if l.manifest != nil {
			report.Plugin = l.manifest.String()
		}
		if err := writeJSON(stdout, report); err != nil {
			fmt.Fprintf(stderr, "pilcrow plugin validate: %v\n", err)
			return 2
		}
	} else {
		printDiagnostics(stderr, l.diags)
	}
	if !l.valid() {
		if !*asJSON {
			fmt.Fprintf(stderr, "%s: invalid plugin\n", path)
		}
		return 1
	}
	if !*asJSON {
		fmt.Fprintf(stdout, "%s: valid (%s: %s, %s)\n", path, l.manifest,
			plural(len(l.manifest.Hooks), "hook"), plural(len(l.manifest.Routes), "route"))
	}
	return 0
}

// validatePlugin loads the plugin at path and checks its exports in a
// one-worker sandbox pool. It returns the exit code to stop with (2, the
// error already printed) or -1.
func validatePlugin(ctx context.Context, path string, prog progress, build authoring.Options, stderr io.Writer) (*loadedPlugin, int) {
	name := "pilcrow plugin " + prog.name
	if _, err := statPath(path); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return nil, 2
	}
	// Started first so the worker boots while esbuild runs.
	pool, err := newPool(ctx, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return nil, 2
	}
	defer pool.Close()
	l, err := loadPlugin(ctx, path, loadOptions{build: build, progress: prog})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return nil, 2
	}
	if l.script != nil {
		prog.step("checking the script in the sandbox")
	}
	if err := checkExports(ctx, pool, l); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return nil, 2
	}
	sortDiagnostics(l.diags)
	return l, -1
}
