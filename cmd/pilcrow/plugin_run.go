package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/plugins"
	"github.com/pilcrow-cms/pilcrow/sandbox"
)

const runUsage = `Usage: pilcrow plugin run PATH (--hook NAME | --route NAME) [flags]

Runs one hook or route of the plugin at PATH (a folder, built first, or a
bundle .zip) in the same sandbox and limits as the server, against a local
site, granting what the manifest declares less any --deny. Prints the
result, the plugin's log lines and the resources used beside their limits
(cpu 12.1 ms of 50, wall, peak memory, subrequests), also when a limit
ended the run.

The local site is throwaway unless --site DIR keeps it: then what a hook
wrote (kv, storage, content, media, users) is there for the next run, so a
route can read it. --seed FILE puts users, collections, media and entries on
a new site first (a --site that already exists is not seeded again):
  {"users": [{"email", "name", "role", "password"}],
   "collections": [{"name", "label", "fields": [...], "options"}],
   "media": [{"file", "alt", "title"}],
   "entries": [{"collection", "data": {...}, "status": "draft"|"published"}]}
Media files are relative to the seed file (docs/plugins.md, "Seeding").

The event is --event FILE ("-" for standard input); without it, a folder's
test/events/<hook>.json (":" written as ".", e.g. content.beforeSave.json)
or test/events/route.<name>.json when it exists, else a minimal event of the
hook's shape; for a route a GET request {method, path, query, headers, body}.

With --json it prints one object to standard output:
  {"ok", "kind", "name", "eventFile", "result", "error": {"kind", "message",
   "limit", "stack"}, "logs": [{"level", "message", "time"}],
   "usage": {"cpuMs", "wallMs", "peakMemoryBytes", "subrequests"},
   "limits": {"cpuMs", "wallMs", "memoryBytes", "subrequests"}}
error.kind is "threw", "limit", "rejected", "not-exported", "not-declared",
"unsettled", "bad-value", "bad-script" or "crashed".

Exit status: 0 the hook succeeded; 1 it threw, was rejected or hit a limit
(the message names which); 2 usage or I/O error.

Flags:
`

// runOptions are `plugin run`'s flags.
type runOptions struct {
	hook, route, eventFile string
	deny, settings         multiFlag
	allowLoopback, asJSON  bool
	siteDir, seedFile      string
}

func runPluginRun(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pilcrow plugin run", flag.ContinueOnError)
	var o runOptions
	fs.StringVar(&o.hook, "hook", "", "the hook to run, e.g. content:beforeSave")
	fs.StringVar(&o.route, "route", "", "the route to call instead of a hook")
	fs.StringVar(&o.eventFile, "event", "", "JSON file with the hook's event or the route's request (\"-\": standard input)")
	fs.Var(&o.deny, "deny", "withhold a declared capability, e.g. content:write (repeatable)")
	fs.Var(&o.settings, "setting", "a setting value as key=value (repeatable)")
	fs.BoolVar(&o.allowLoopback, "unsafe-allow-loopback", false, "UNSAFE: let ctx.http.fetch reach servers on this machine, for local mocks")
	fs.BoolVar(&o.asJSON, "json", false, "print the outcome as JSON on standard output")
	fs.StringVar(&o.siteDir, "site", "", "keep the local site (kv, storage, content, media, users) in this folder between runs (default: a throwaway site)")
	fs.StringVar(&o.seedFile, "seed", "", "JSON file of users, collections, media and entries to put on a new site (docs/plugins.md)")
	setUsage(fs, runUsage)
	pos, code := parseArgs(fs, args, stderr, 1)
	if code >= 0 {
		return code
	}
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "pilcrow plugin run: "+format+"\n", args...)
		return 2
	}
	path := pos[0]
	kind, name := sandbox.KindHook, o.hook
	switch {
	case (o.hook == "") == (o.route == ""):
		return fail("give exactly one of --hook NAME or --route NAME")
	case o.route != "":
		kind, name = sandbox.KindRoute, o.route
	case !manifest.HookName(o.hook).Known():
		return fail("unknown hook %q; Pilcrow's hooks are: %s", o.hook, hookList())
	}
	deny, err := parseDeny(o.deny)
	if err != nil {
		return fail("%v", err)
	}
	if _, err := statPath(path); err != nil {
		return fail("%v", err)
	}

	prog := progress{w: stderr, name: "run"}
	if o.asJSON {
		prog.w = nil
	}
	pool, err := newPool(ctx, stderr)
	if err != nil {
		return fail("%v", err)
	}
	defer pool.Close()
	l, err := loadPlugin(ctx, path, loadOptions{progress: prog})
	if err != nil {
		return fail("%v", err)
	}
	if !l.valid() {
		printDiagnostics(stderr, l.diags)
		fmt.Fprintf(stderr, "pilcrow plugin run: %s is invalid; fix the problems above first\n", path)
		return 1
	}
	printDiagnostics(stderr, l.diags) // warnings

	settings, secrets, err := parseSettings(l.manifest, o.settings)
	if err != nil {
		return fail("%v", err)
	}
	event, eventFile, err := runEvent(l, kind, name, o.eventFile, stdin)
	if err != nil {
		return fail("%v", err)
	}
	if eventFile != "" && o.eventFile == "" {
		prog.note("no --event given; using %s", eventFile)
	} else if eventFile == "" {
		prog.note("no --event given; using a minimal %s event", name)
	}

	var hostLog *slog.Logger
	if o.asJSON {
		hostLog = slog.New(slog.DiscardHandler)
	} else {
		// The host side's own notes: email "sent", egress refusals.
		hostLog = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	siteLog := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ls, err := openLocalSite(ctx, o.siteDir, siteLog)
	if err != nil {
		return fail("%v", err)
	}
	defer ls.Close()
	if err := ls.seed(ctx, o.seedFile, prog); err != nil {
		return fail("%v", err)
	}
	run := plugins.LocalRun{
		Manifest: l.manifest, Script: l.script, Kind: kind, Name: name, Event: event,
		Deny: deny, Settings: settings, Secrets: secrets,
		UnsafeAllowLoopback: o.allowLoopback, Log: hostLog, Limits: runSiteLimits,
		Services: ls.LocalPluginServices(hostLog, o.allowLoopback),
	}
	prog.step("running %s %s in the sandbox", kind, name)
	res, runErr := plugins.RunLocal(ctx, pool, run)
	out := newRunOutcome(kind, name, eventFile, res, runErr)
	out.setLimits(run.EffectiveLimits())
	if out.Error != nil && out.Error.Kind == "" {
		// Not the plugin's doing: the throwaway site, the sandbox itself, or
		// an interrupt.
		return fail("%v", runErr)
	}
	if o.asJSON {
		if err := writeJSON(stdout, out); err != nil {
			return fail("%v", err)
		}
	} else {
		out.print(stdout, stderr)
	}
	if out.Error != nil {
		return 1
	}
	return 0
}

func hookList() string {
	var names []string
	for _, h := range manifest.AllHooks() {
		names = append(names, string(h))
	}
	return strings.Join(names, ", ")
}

func parseDeny(values []string) ([]manifest.Capability, error) {
	var out []manifest.Capability
	for _, v := range values {
		c := manifest.Capability(v)
		if !c.Known() {
			var all []string
			for _, k := range manifest.AllCapabilities() {
				all = append(all, string(k))
			}
			return nil, fmt.Errorf("--deny %q: not a capability; capabilities are: %s", v, strings.Join(all, ", "))
		}
		// Withholding read access must also withhold write access, which
		// implies it.
		for _, k := range manifest.AllCapabilities() {
			if k.Implies(c) {
				out = append(out, k)
			}
		}
	}
	return out, nil
}

// runSiteLimits are the limits `plugin run` starts from: the server's
// defaults (the zero value). Tests built with the race detector, which slows
// goja about tenfold, stretch them (see race_test.go).
var runSiteLimits sandbox.Limits
