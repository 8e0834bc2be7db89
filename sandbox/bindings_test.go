package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

// invokeBoth runs inv through the shared pool and in-process and requires
// the same outcome from both.
func invokeBoth(t *testing.T, inv *Invocation, host Host) (*Result, error) {
	t.Helper()
	res, err := testPool(t).Invoke(context.Background(), inv, host)
	res2, err2 := RunInProcess(context.Background(), inv, host)
	if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
		t.Fatalf("pool and in-process disagree: %v vs %v", err, err2)
	}
	if err == nil && string(res.Value) != string(res2.Value) {
		t.Fatalf("pool and in-process disagree: %s vs %s", res.Value, res2.Value)
	}
	return res, err
}

func TestCtxHasOnlyGrantedAPIs(t *testing.T) {
	t.Parallel()
	probe := `return {
		top: Object.keys(ctx).sort(),
		content: ctx.content ? Object.keys(ctx.content).sort() : typeof ctx.content,
		media: ctx.media ? Object.keys(ctx.media).sort() : typeof ctx.media,
		users: typeof ctx.users, http: typeof ctx.http, email: typeof ctx.email,
		storage: Object.keys(ctx.storage).sort(),
		posts: ctx.storage.posts ? Object.keys(ctx.storage.posts).sort() : null,
	}`
	tests := []struct {
		name   string
		grants Grants
		want   string
	}{
		{"nothing granted", Grants{},
			`{"top":["kv","log","plugin","settings","site","storage","url"],"content":"undefined","media":"undefined","users":"undefined","http":"undefined","email":"undefined","storage":[],"posts":null}`},
		{"read only", Grants{Capabilities: []manifest.Capability{manifest.ContentRead, manifest.MediaRead}},
			`{"top":["content","kv","log","media","plugin","settings","site","storage","url"],"content":["get","list"],"media":["get","list"],"users":"undefined","http":"undefined","email":"undefined","storage":[],"posts":null}`},
		{"write implies read", Grants{Capabilities: []manifest.Capability{manifest.ContentWrite, manifest.MediaWrite, manifest.UsersRead, manifest.NetworkRequest, manifest.EmailSend}, StorageCollections: []string{"posts", "tags"}},
			`{"top":["content","email","http","kv","log","media","plugin","settings","site","storage","url","users"],"content":["create","delete","get","list","update"],"media":["delete","get","list","upload"],"users":"object","http":"object","email":"object","storage":["posts","tags"],"posts":["count","delete","deleteMany","exists","get","getMany","put","putMany","query"]}`},
		{"page:metadata unlocks no API", Grants{Capabilities: []manifest.Capability{"page:metadata"}},
			`{"top":["kv","log","plugin","settings","site","storage","url"],"content":"undefined","media":"undefined","users":"undefined","http":"undefined","email":"undefined","storage":[],"posts":null}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv := hookInvocation(probe)
			inv.Grants = tc.grants
			res, err := invokeBoth(t, inv, newMemHost())
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Value) != tc.want {
				t.Fatalf("ctx =\n%s\nwant\n%s", res.Value, tc.want)
			}
		})
	}
}

func TestCtxPluginAndSettingsAreFrozenCopies(t *testing.T) {
	t.Parallel()
	inv := hookInvocation(`
		"use strict";
		const tries = [];
		for (const f of [() => { ctx.settings.apiKey = "x" }, () => { ctx.settings.nested.list.push(3) }, () => { ctx.plugin.id = "other" }]) {
			try { f(); tries.push("mutated") } catch (e) { tries.push(e.name) }
		}
		return {id: ctx.plugin.id, version: ctx.plugin.version, settings: ctx.settings, tries}`)
	inv.Grants.Settings = json.RawMessage(`{"apiKey":"k","nested":{"list":[1,2]}}`)
	res, err := invokeBoth(t, inv, newMemHost())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"test-plugin","version":"1.0.0","settings":{"apiKey":"k","nested":{"list":[1,2]}},"tries":["TypeError","TypeError","TypeError"]}`
	if string(res.Value) != want {
		t.Fatalf("got %s\nwant %s", res.Value, want)
	}
}

func TestCodeFromStringIsGone(t *testing.T) {
	t.Parallel()
	inv := hookInvocation(`
		const attempts = {
			eval: () => eval("1"),
			indirectEval: () => (0, globalThis["ev" + "al"])("1"),
			Function: () => Function("return 1")(),
			newFunction: () => new Function("return 1")(),
			fnConstructor: () => (function(){}).constructor("return 1")(),
			arrowConstructor: () => (() => 0).constructor("return 1")(),
			constructorConstructor: () => ({}).constructor.constructor("return 1")(),
			asyncConstructor: () => (async function(){}).constructor("return 1")(),
			generatorConstructor: () => (function*(){}).constructor("yield 1")().next(),
			hostFnConstructor: () => ctx.log.info.constructor("return 1")(),
			hostObjConstructor: () => ctx.kv.constructor.constructor("return 1")(),
			reflectConstruct: () => Reflect.construct(Function, ["return 1"])(),
			protoConstructor: () => Object.getPrototypeOf(ctx.kv.get).constructor("return 1")(),
			boundConstructor: () => ctx.kv.get.bind(null).constructor("return 1")(),
		};
		const out = {};
		for (const k of Object.keys(attempts)) {
			try { out[k] = "ran: " + attempts[k]() } catch (e) { out[k] = e.name }
		}
		out.instanceOf = (() => 0) instanceof Function;
		return out`)
	res, err := invokeBoth(t, inv, newMemHost())
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(res.Value, &out); err != nil {
		t.Fatal(err)
	}
	for k, v := range out {
		if k == "instanceOf" {
			if v != true {
				t.Errorf("instanceof Function broke: %v", v)
			}
			continue
		}
		if s, _ := v.(string); strings.HasPrefix(s, "ran") || (s != "TypeError" && s != "ReferenceError") {
			t.Errorf("%s: %v — code from a string must be impossible", k, v)
		}
	}
	if !strings.Contains(string(res.Value), `"asyncConstructor":"TypeError"`) {
		t.Errorf("async function constructor not poisoned: %s", res.Value)
	}
}

func TestAsyncGeneratorsAreUnavailable(t *testing.T) {
	t.Parallel()
	inv := hookInvocation(`return 1`)
	inv.Script = []byte(`var __pilcrow = {default: {hooks: {h: async function* () {}}}};`)
	_, err := RunInProcess(context.Background(), inv, nil)
	var se *ScriptError
	if !errors.As(err, &se) || se.Name != "SyntaxError" {
		t.Fatalf("err = %v; goja gained async generators: poison their constructor too", err)
	}
}

func TestGlobalsHaveNoAmbientAuthority(t *testing.T) {
	t.Parallel()
	inv := hookInvocation(`
		// setTimeout, setInterval and queueMicrotask are web globals bound
		// to the invocation (web_test.go); setImmediate is Node's.
		const names = ["require", "process", "fetch", "eval", "setImmediate",
			"XMLHttpRequest", "WebSocket", "module", "exports", "global", "Deno", "Bun", "console", "print", "load", "importScripts"];
		const out = {};
		for (const n of names) out[n] = typeof globalThis[n];
		return out`)
	res, err := invokeBoth(t, inv, newMemHost())
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]string
	if err := json.Unmarshal(res.Value, &out); err != nil {
		t.Fatal(err)
	}
	for name, typ := range out {
		if typ != "undefined" {
			t.Errorf("globalThis.%s is %s, want undefined", name, typ)
		}
	}
}

func TestNoStateSurvivesAnInvocation(t *testing.T) {
	t.Parallel()
	p := testPool(t)
	set := hookInvocation(`globalThis.leak = 1; Object.prototype.polluted = 1; Array.prototype.push = null; JSON.parse = () => 666; return 1`)
	get := hookInvocation(`return [typeof globalThis.leak, typeof ({}).polluted, typeof [].push, JSON.parse("7")]`)
	// Several rounds so both workers of the pool serve both kinds.
	for i := 0; i < 6; i++ {
		if _, err := p.Invoke(context.Background(), set, newMemHost()); err != nil {
			t.Fatal(err)
		}
		res, err := p.Invoke(context.Background(), get, newMemHost())
		if err != nil {
			t.Fatal(err)
		}
		if string(res.Value) != `["undefined","undefined","function",7]` {
			t.Fatalf("state leaked between invocations: %s", res.Value)
		}
	}
}

func TestHostCallsAndAnswers(t *testing.T) {
	t.Parallel()
	host := newMemHost()
	inv := hookInvocation(`
		await ctx.kv.set("a", {x: [1, "two"]});
		const [a, missing, keys] = await Promise.all([ctx.kv.get("a"), ctx.kv.get("nope"), ctx.kv.list("")]);
		const r = await ctx.http.fetch("https://example.com/", {method: "GET"});
		const doc = await ctx.storage.posts.get("p1");
		let denied;
		try { await ctx.content.get("posts", "e1") } catch (e) { denied = e.message }
		ctx.kv.set("unawaited", true); // still completes before the invocation ends
		return {a, missing, keys, status: r.status, ok: r.ok, body: await r.json(), text: typeof (await r.text()), doc}`)
	inv.Grants = Grants{Capabilities: []manifest.Capability{manifest.NetworkRequest}, StorageCollections: []string{"posts"}}
	res, err := testPool(t).Invoke(context.Background(), inv, host)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":{"x":[1,"two"]},"missing":null,"keys":["a"],"status":200,"ok":true,"body":{"echo":"https://example.com/"},"text":"string","doc":{"method":"storage.posts.get"}}`
	if string(res.Value) != want {
		t.Fatalf("got  %s\nwant %s", res.Value, want)
	}
	if res.Usage.Subrequests != 1 {
		t.Errorf("subrequests = %d, want 1", res.Usage.Subrequests)
	}
	calls := strings.Join(host.callLog(), ",")
	if !strings.Contains(calls, "test-plugin kv.set") || strings.Contains(calls, "content") {
		t.Errorf("host saw %s", calls)
	}
	if !strings.Contains(calls, "kv.set,") && !strings.HasSuffix(calls, "kv.set") {
		t.Errorf("unawaited kv.set never reached the host: %s", calls)
	}
}

func TestHostErrorsRejectThePromise(t *testing.T) {
	t.Parallel()
	inv := hookInvocation(`try { await ctx.email.send({to: "a@b.c"}) } catch (e) { return e instanceof Error && e.message }`)
	inv.Grants.Capabilities = []manifest.Capability{manifest.EmailSend}
	res, err := invokeBoth(t, inv, failingHost{})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Value) != `"smtp down"` {
		t.Fatalf("got %s", res.Value)
	}
}

type failingHost struct{}

func (failingHost) Call(context.Context, string, string, json.RawMessage) (json.RawMessage, error) {
	return nil, errors.New("smtp down")
}

func TestSubrequestLimit(t *testing.T) {
	t.Parallel()
	inv := hookInvocation(`for (let i = 0; i < 20; i++) { try { await ctx.http.fetch("https://example.com/" + i) } catch (e) {} } return "done"`)
	inv.Grants.Capabilities = []manifest.Capability{manifest.NetworkRequest}
	inv.Limits.Subrequests = 3
	res, err := invokeBoth(t, inv, newMemHost())
	wantLimit(LimitSubrequests)(t, err)
	if res == nil || res.Usage.Subrequests != 3 {
		t.Fatalf("usage = %+v, want 3 subrequests", res)
	}
}

func TestWallLimitWhileWaitingForTheHost(t *testing.T) {
	t.Parallel()
	inv := hookInvocation(`await ctx.kv.get("slow"); return 1`)
	inv.Limits.Wall = 200 * time.Millisecond
	host := newMemHost()
	host.block = true
	_, err := invokeBoth(t, inv, host)
	wantLimit(LimitWall)(t, err)
}

func TestCancelledContext(t *testing.T) {
	t.Parallel()
	p := testPool(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	host := newMemHost()
	host.block = true
	_, err := p.Invoke(ctx, hookInvocation(`await ctx.kv.get("slow")`), host)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's error", err)
	}
	assertClean(t, p)
}

func TestScriptErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		check      func(*testing.T, error)
	}{
		{"Error", `throw new Error("title is required")`, func(t *testing.T, err error) {
			var se *ScriptError
			if !errors.As(err, &se) || se.Message != "title is required" || err.Error() != "title is required" || !strings.Contains(se.Stack, "plugin.js") {
				t.Fatalf("err = %#v", err)
			}
		}},
		{"TypeError", `null.x`, wantScriptError("TypeError", "")},
		{"rejection", `return Promise.reject(new RangeError("nope"))`, wantScriptError("RangeError", "nope")},
		{"string", `throw "plain"`, wantScriptError("", "plain")},
		{"object", `throw {code: 1}`, wantScriptError("", "[object Object]")},
		{"custom toString", `throw {toString() { return "custom" }}`, wantScriptError("", "custom")},
		{"long message", `throw new Error("x".repeat(1e6))`, func(t *testing.T, err error) {
			var se *ScriptError
			if !errors.As(err, &se) || len(se.Message) > maxMessageBytes+10 {
				t.Fatalf("message not truncated: %d bytes", len(err.Error()))
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := invokeBoth(t, hookInvocation(tc.body), newMemHost())
			tc.check(t, err)
		})
	}
}

func TestReturnValues(t *testing.T) {
	t.Parallel()
	tests := []struct{ body, want string }{
		{`return undefined`, ""},
		{``, ""},
		{`return null`, "null"},
		{`return {data: {title: event.data.title + "!"}}`, `{"data":{"title":"Hello!"}}`},
		{`return [1, undefined, () => 1, NaN, -0, 1e21, 0.1]`, `[1,null,null,null,0,1e+21,0.1]`},
		{`return {d: new Date(0), s: new String("s"), n: new Number(2), b: new Boolean(false), f() {}, u: undefined, [Symbol()]: 1}`, `{"d":"1970-01-01T00:00:00.000Z","s":"s","n":2,"b":false}`},
		{`return "\u2028<\"\\\n\u0001é😀"`, `"\u2028<\"\\\n\u0001é😀"`},
	}
	for _, tc := range tests {
		res, err := invokeBoth(t, hookInvocation(tc.body), newMemHost())
		if err != nil {
			t.Fatalf("%s: %v", tc.body, err)
		}
		if string(res.Value) != tc.want {
			t.Errorf("%s: got %s, want %s", tc.body, res.Value, tc.want)
		}
	}
}

func TestRoutesAndMissingExports(t *testing.T) {
	t.Parallel()
	script := pluginScript(`"content:afterSave": () => 1`, `"hello/world": (req, ctx) => ({status: 201, body: {method: req.method, id: ctx.plugin.id}})`)
	inv := &Invocation{PluginID: "p", Script: script, Kind: KindRoute, Name: "hello/world", Event: []byte(`{"method":"POST"}`)}
	res, err := invokeBoth(t, inv, nil)
	if err != nil || string(res.Value) != `{"status":201,"body":{"method":"POST","id":"p"}}` {
		t.Fatalf("route: %s %v", res.Value, err)
	}
	for _, tc := range []struct {
		inv  Invocation
		want error
	}{
		{Invocation{PluginID: "p", Script: script, Kind: KindRoute, Name: "content:afterSave"}, ErrNotImplemented},
		{Invocation{PluginID: "p", Script: script, Kind: KindHook, Name: "cron"}, ErrNotImplemented},
		{Invocation{PluginID: "p", Script: []byte(`var x = 1`), Kind: KindHook, Name: "cron"}, ErrBadScript},
		{Invocation{PluginID: "p", Script: []byte(`var __pilcrow = {default: 5}`), Kind: KindHook, Name: "cron"}, ErrBadScript},
		{Invocation{PluginID: "p", Script: []byte(`var __pilcrow = {default: {}}`), Kind: KindHook, Name: "cron"}, ErrNotImplemented},
	} {
		if _, err := invokeBoth(t, &tc.inv, nil); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.inv.Script, err, tc.want)
		}
	}
	_, err = invokeBoth(t, &Invocation{PluginID: "p", Script: []byte(`var = ;`), Kind: KindHook, Name: "x"}, nil)
	wantScriptError("SyntaxError", "")(t, err)
}

func TestInvalidInvocations(t *testing.T) {
	t.Parallel()
	ok := hookInvocation(`return 1`)
	tests := []struct {
		name   string
		mutate func(*Invocation)
	}{
		{"no plugin id", func(i *Invocation) { i.PluginID = "" }},
		{"no script", func(i *Invocation) { i.Script = nil }},
		{"bad kind", func(i *Invocation) { i.Kind = "cron" }},
		{"no name", func(i *Invocation) { i.Name = "" }},
		{"bad event", func(i *Invocation) { i.Event = []byte("{") }},
		{"settings not an object", func(i *Invocation) { i.Grants.Settings = []byte("[1]") }},
		{"path in collection", func(i *Invocation) { i.Grants.StorageCollections = []string{"../other"} }},
		{"dotted collection", func(i *Invocation) { i.Grants.StorageCollections = []string{"a.get"} }},
		{"upper-case collection", func(i *Invocation) { i.Grants.StorageCollections = []string{"Posts"} }},
	}
	for _, tc := range tests {
		inv := *ok
		tc.mutate(&inv)
		if _, err := testPool(t).Invoke(context.Background(), &inv, nil); !errors.Is(err, ErrInvalidInvocation) {
			t.Errorf("%s: pool err = %v", tc.name, err)
		}
		if _, err := RunInProcess(context.Background(), &inv, nil); !errors.Is(err, ErrInvalidInvocation) {
			t.Errorf("%s: in-process err = %v", tc.name, err)
		}
	}
}

func TestLogs(t *testing.T) {
	t.Parallel()
	inv := hookInvocation(`ctx.log.debug("d"); ctx.log.info("n", 1, {a: [true]}, null, undefined); ctx.log.warn(new TypeError("bad")); ctx.log.error("e", () => 1); return 1`)
	res, err := invokeBoth(t, inv, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range res.Logs {
		got = append(got, l.Level+":"+l.Message)
		if l.Time.IsZero() {
			t.Error("log line without time")
		}
	}
	want := `debug:d|info:n 1 {"a":[true]} null undefined|warn:TypeError: bad|error:e undefined`
	if strings.Join(got, "|") != want {
		t.Fatalf("logs = %q\nwant %q", strings.Join(got, "|"), want)
	}
}
