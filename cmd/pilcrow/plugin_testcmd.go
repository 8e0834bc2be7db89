package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/plugins"
	"github.com/pilcrow-cms/pilcrow/plugins/authoring"
	"github.com/pilcrow-cms/pilcrow/sandbox"
)

const testUsage = `Usage: pilcrow plugin test DIR [flags]

Builds the plugin in DIR and runs its tests, test/*.test.ts and
test/*.test.js, in name order, printing each result. A test file has the
globals test(name, fn), expect(value) with matchers (toBe, toEqual,
toContain, toMatch, toThrow, rejects.toThrow, not, ...) and plugin:
plugin.hook(name, event?) and plugin.route(name, request?) run the plugin in
the sandbox, with the server's limits, against one local site that every
test of the run shares (so a route reads what a hook wrote). A hook without
an event gets test/events/<hook>.json when it exists. Failures name the
test file's line (test/plugin.test.ts:14:5) and, when the plugin threw, its
stack in the plugin's source files. pilcrow-test.d.ts types the API.

Exit status: 0 every test passed, 1 a test failed (or the plugin is
invalid), 2 usage or I/O error, or no test files.

Flags:
`

// testOptions are `plugin test`'s flags.
type testOptions struct {
	siteDir, seedFile, match string
	timeout                  time.Duration
	allowLoopback            bool
}

func runPluginTest(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pilcrow plugin test", flag.ContinueOnError)
	var o testOptions
	fs.StringVar(&o.siteDir, "site", "", "run against the local site in this folder, kept between runs (default: a throwaway site)")
	fs.StringVar(&o.seedFile, "seed", "", "JSON file of users, collections, media and entries to put on a new site (as plugin run --seed)")
	fs.StringVar(&o.match, "run", "", "run only the tests whose name contains this text")
	fs.DurationVar(&o.timeout, "timeout", authoring.DefaultTestTimeout, "longest one test may run")
	fs.BoolVar(&o.allowLoopback, "unsafe-allow-loopback", false, "UNSAFE: let ctx.http.fetch reach servers on this machine, for local mocks")
	setUsage(fs, testUsage)
	pos, code := parseArgs(fs, args, stderr, 1)
	if code >= 0 {
		return code
	}
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "pilcrow plugin test: "+format+"\n", args...)
		return 2
	}
	dir := pos[0]
	if kind, err := statPath(dir); err != nil || kind != pathFolder {
		if err == nil {
			err = fmt.Errorf("%s is not a plugin folder", dir)
		}
		return fail("%v", err)
	}
	prog := progress{w: stderr, name: "test"}
	pool, err := newPool(ctx, stderr)
	if err != nil {
		return fail("%v", err)
	}
	defer pool.Close()
	l, err := loadPlugin(ctx, dir, loadOptions{progress: prog})
	if err != nil {
		return fail("%v", err)
	}
	printDiagnostics(stderr, l.diags)
	if !l.valid() {
		fmt.Fprintf(stderr, "pilcrow plugin test: %s is invalid; fix the problems above first\n", dir)
		return 1
	}
	files, err := authoring.BuildTests(ctx, dir)
	var buildErr *authoring.BuildError
	switch {
	case errors.As(err, &buildErr):
		printDiagnostics(stderr, fromMessages(buildErr.Messages))
		return 1
	case err != nil:
		return fail("%v", err)
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
	// Host notes (email NOT SENT, egress refusals) would interleave with
	// the results; warnings still show.
	hostLog := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	svc := ls.LocalPluginServices(hostLog, o.allowLoopback)
	invoke := func(ctx context.Context, call authoring.TestInvoke) authoring.TestOutcome {
		return testInvoke(ctx, pool, l, svc, hostLog, o.allowLoopback, call)
	}

	passed, failed := 0, 0
	for _, tf := range files {
		fmt.Fprintln(stdout, tf.File)
		authoring.RunTestFile(ctx, tf, invoke, authoring.TestRunOptions{Timeout: o.timeout, Match: o.match}, func(r authoring.TestResult) {
			printTestResult(stdout, r)
			if r.Passed {
				passed++
			} else {
				failed++
			}
		})
		if ctx.Err() != nil {
			return fail("interrupted")
		}
	}
	fmt.Fprintf(stdout, "%s: %d passed, %d failed\n", plural(passed+failed, "test"), passed, failed)
	if failed > 0 || passed == 0 {
		return 1
	}
	return 0
}

func printTestResult(w io.Writer, r authoring.TestResult) {
	d := fmt.Sprintf("(%.1f ms)", ms(r.Duration))
	if r.Passed {
		fmt.Fprintf(w, "  ok    %s %s\n", r.Name, d)
		return
	}
	fmt.Fprintf(w, "  FAIL  %s %s\n", r.Name, d)
	fmt.Fprintf(w, "        %s\n", r.Message)
	if r.At != "" {
		fmt.Fprintf(w, "        at %s\n", r.At)
	}
	if r.Detail != "" {
		fmt.Fprintln(w, indent(r.Detail, "        "))
	}
}

// testInvoke runs one plugin.hook or plugin.route of a test, as `plugin
// run` would, and answers with the outcome `plugin run --json` prints.
func testInvoke(ctx context.Context, pool *sandbox.Pool, l *loadedPlugin, svc *plugins.Services, log *slog.Logger, allowLoopback bool, call authoring.TestInvoke) authoring.TestOutcome {
	answer := func(out *runOutcome) authoring.TestOutcome {
		data, err := json.Marshal(out)
		if err != nil {
			data, _ = json.Marshal(&runOutcome{Error: &runError{Kind: "harness", Message: err.Error()}, Result: json.RawMessage("null")})
		}
		return data
	}
	refuse := func(err error) authoring.TestOutcome {
		return answer(&runOutcome{Kind: call.Kind, Name: call.Name, Result: json.RawMessage("null"), Logs: []sandbox.LogLine{},
			Error: &runError{Kind: "harness", Message: err.Error()}})
	}
	if call.Kind == sandbox.KindHook && !manifest.HookName(call.Name).Known() {
		return refuse(fmt.Errorf("unknown hook %q; Pilcrow's hooks are: %s", call.Name, hookList()))
	}
	deny, err := parseDeny(call.Deny)
	if err != nil {
		return refuse(err)
	}
	event := call.Event
	if event == nil {
		if event, _, err = runEvent(l, call.Kind, call.Name, "", nil); err != nil {
			return refuse(err)
		}
	}
	settings, secrets := map[string]any{}, map[string]string{}
	for k, v := range call.Settings {
		settings[k] = v
		for _, s := range l.manifest.Settings {
			if s.Key == k && s.Type == manifest.SettingSecret {
				secrets[k] = fmt.Sprint(v)
				if !s.VisibleToPlugin() {
					delete(settings, k)
				}
			}
		}
	}
	run := plugins.LocalRun{
		Manifest: l.manifest, Script: l.script, Kind: call.Kind, Name: call.Name, Event: event,
		Deny: deny, Settings: settings, Secrets: secrets, UnsafeAllowLoopback: allowLoopback,
		Log: log, Limits: runSiteLimits, Services: svc,
	}
	res, runErr := plugins.RunLocal(ctx, pool, run)
	out := newRunOutcome(call.Kind, call.Name, "", res, runErr)
	out.setLimits(run.EffectiveLimits())
	if out.Error != nil && out.Error.Kind == "" {
		out.Error.Kind = "harness"
	}
	return answer(out)
}
