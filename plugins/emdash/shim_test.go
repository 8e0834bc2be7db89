package emdash_test

import (
	"encoding/json"
	"testing"

	"github.com/dop251/goja"
	"github.com/evanw/esbuild/pkg/api"

	"github.com/pilcrow-cms/pilcrow/plugins/emdash"
)

// shimRuntime evaluates shim.js (as the sandbox would, lowered to ES2017)
// in a bare goja runtime, with helpers to drive it synchronously.
func shimRuntime(t *testing.T) *goja.Runtime {
	t.Helper()
	res := api.Transform(string(emdash.Shim), api.TransformOptions{Format: api.FormatIIFE, GlobalName: "shim", Target: api.ES2017, Loader: api.LoaderJS})
	if len(res.Errors) > 0 {
		t.Fatal(res.Errors[0].Text)
	}
	rt := goja.New()
	if _, err := rt.RunString(string(res.Code)); err != nil {
		t.Fatal(err)
	}
	// A fake Pilcrow ctx that records calls; results settle at once.
	if _, err := rt.RunString(`
var calls = [];
function fakeCtx() {
  var settings = { greeting: "hi", maxItems: 500 };
  return {
    plugin: { id: "p", version: "1.0.0" }, settings: settings, site: { name: "S", url: "https://s.example", locale: "en" },
    log: { info: function () {}, warn: function (m) { calls.push("warn " + m); }, error: function (m) { calls.push("error " + m); } },
    kv: { get: async function (k) { calls.push("kv.get " + k); return null; }, set: async function () {}, delete: async function () {}, list: async function () { return []; } },
  };
}
function settle(p) {
  var out = { done: false };
  p.then(function (v) { out.done = true; out.value = v; }, function (e) { out.done = true; out.error = String(e && e.message || e); });
  return out;
}
`); err != nil {
		t.Fatal(err)
	}
	return rt
}

// TestShimEvents: every hook gets EmDash's event shape and its answer goes
// back in Pilcrow's.
func TestShimEvents(t *testing.T) {
	cases := []struct {
		hook, handler, event, want string
	}{
		{"content:beforeSave", `async (e) => ({ ...e.content, title: e.content.title + "!", seen: [e.collection, e.isNew, e.content.id] })`,
			`{collection: "posts", id: "e1", isNew: true, data: {title: "T"}}`, `{"title":"T!","seen":["posts",true,"e1"]}`},
		{"content:beforeSave", `async () => undefined`, `{collection: "posts", id: "e1", isNew: false, data: {title: "T"}}`, `null`},
		{"content:beforeDelete", `async (e) => e.permanent === false && e.id === "e1" ? false : undefined`,
			`{collection: "posts", id: "e1", isNew: false, data: {}}`, `false`},
		{"content:afterDelete", `async (e) => { calls.push(JSON.stringify(e)); }`, `{collection: "posts", id: "e1", isNew: false, data: {}}`, `null`},
		{"content:afterPublish", `async (e) => { calls.push(JSON.stringify(e)); }`, `{collection: "posts", id: "e1", isNew: false, data: {a: 1}}`, `null`},
		{"media:beforeUpload", `async (e) => e.file`, `{filename: "a.png", mimeType: "image/png", size: 3}`, `null`},
		{"media:beforeUpload", `async (e) => ({ ...e.file, name: "b.png" })`, `{filename: "a.png", mimeType: "image/png", size: 3}`,
			`error: the plugin changed the upload to "b.png" (image/png); Pilcrow cannot rename or retype an upload, so it is refused`},
		{"media:afterUpload", `async (e) => { calls.push(JSON.stringify(e)); }`, `{id: "m1", url: "/m", filename: "a.png", mimeType: "image/png", size: 3}`, `null`},
		{"cron", `async (e) => { calls.push(JSON.stringify(e)); }`, `{name: "n", schedule: "@daily", data: null, scheduledAt: "2026-01-01T00:00:00Z"}`, `null`},
		{"plugin:uninstall", `async (e) => { calls.push(JSON.stringify(e)); }`, `{deleteData: true}`, `null`},
		{"page:metadata", `async (e) => [{kind: "meta", name: "n", content: e.page.content.slug}, {kind: "property", property: "og:x", content: e.page.siteName},
			{kind: "link", rel: "canonical", href: "https://s.example/x", key: "c"}, {kind: "jsonld", graph: [{"@type": "A"}, {"@type": "B"}]}]`,
			`{collection: "posts", id: "e1", slug: "x", data: {title: "T"}, publishedAt: "2026-01-01T00:00:00Z"}`,
			`{"meta":[{"name":"n","content":"x"},{"property":"og:x","content":"S"}],"link":[{"rel":"canonical","href":"https://s.example/x"}],"jsonLd":[{"@type":"A"},{"@type":"B"}]}`},
		{"page:metadata", `async () => null`, `{collection: "posts", id: "e1", slug: "x", data: {}, publishedAt: "t"}`, `null`},
	}
	for _, c := range cases {
		t.Run(c.hook, func(t *testing.T) {
			rt := shimRuntime(t)
			src := `(function () {
  var p = shim.adapt({ hooks: { "` + c.hook + `": ` + c.handler + ` } }, { hooks: [{ name: "` + c.hook + `" }], routes: [], settings: [] });
  globalThis.r = settle(p.hooks["` + c.hook + `"](` + c.event + `, fakeCtx()));
})()`
			if _, err := rt.RunString(src); err != nil {
				t.Fatal(err)
			}
			// goja runs promise jobs when a script ends: read the outcome in the next one.
			v, err := rt.RunString(`if (!r.done) throw new Error("did not settle");
r.error !== undefined ? "error: " + r.error : JSON.stringify(r.value === undefined ? null : r.value)`)
			if err != nil {
				t.Fatal(err)
			}
			if v.String() != c.want {
				t.Fatalf("%s → %s, want %s", c.hook, v, c.want)
			}
		})
	}
	// The shapes the after hooks saw.
	rt := shimRuntime(t)
	_, err := rt.RunString(`(function () {
  var p = shim.adapt({ hooks: {
    "content:afterPublish": async (e) => { calls.push(JSON.stringify(e)); },
    "cron": async (e) => { calls.push(JSON.stringify(e)); },
    "media:afterUpload": async (e) => { calls.push(JSON.stringify(e)); },
  } }, { hooks: [{ name: "content:afterPublish" }, { name: "cron" }, { name: "media:afterUpload" }], routes: [], settings: [] });
  settle(p.hooks["content:afterPublish"]({ collection: "posts", id: "e1", data: { a: 1 } }, fakeCtx()));
  settle(p.hooks["cron"]({ name: "n", schedule: "@daily", data: { k: 1 }, scheduledAt: "t" }, fakeCtx()));
  settle(p.hooks["media:afterUpload"]({ id: "m1", url: "/m", filename: "a.png", mimeType: "image/png", size: 3 }, fakeCtx()));
})()`)
	if err != nil {
		t.Fatal(err)
	}
	v, err := rt.RunString(`JSON.stringify(calls)`)
	if err != nil {
		t.Fatal(err)
	}
	want := `["{\"content\":{\"a\":1,\"id\":\"e1\"},\"collection\":\"posts\"}","{\"name\":\"n\",\"scheduledAt\":\"t\",\"data\":{\"k\":1}}","{\"media\":{\"id\":\"m1\",\"filename\":\"a.png\",\"mimeType\":\"image/png\",\"size\":3,\"url\":\"/m\",\"createdAt\":null}}"]`
	if v.String() != want {
		t.Fatalf("after hook events = %s\nwant %s", v, want)
	}
}

// TestShimErrorPolicy: errorPolicy "continue" in the code logs a failure
// and lets the operation proceed; a missing handler fails at load.
func TestShimErrorPolicy(t *testing.T) {
	rt := shimRuntime(t)
	_, err := rt.RunString(`(function () {
  var p = shim.adapt({ hooks: { "content:beforeSave": { errorPolicy: "continue", handler: async () => { throw new Error("nope"); } } } },
    { hooks: [{ name: "content:beforeSave" }], routes: [], settings: [] });
  globalThis.r = settle(p.hooks["content:beforeSave"]({ collection: "c", id: "1", isNew: true, data: {} }, fakeCtx()));
  try { shim.adapt({ hooks: {} }, { hooks: [{ name: "cron" }], routes: [], settings: [] }); } catch (e) { globalThis.missing = e.message; }
})()`)
	if err != nil {
		t.Fatal(err)
	}
	v, err := rt.RunString(`JSON.stringify({ value: r.value === undefined ? "kept" : r.value, error: r.error, log: calls, missing: missing })`)
	if err != nil {
		t.Fatal(err)
	}
	if v.String() != `{"value":"kept","log":["error content:beforeSave failed (errorPolicy continue): nope"],"missing":"manifest.json declares the hook cron, but backend.js exports no handler for it"}` {
		t.Fatalf("got %s", v)
	}
}

// TestShimBlocks: each EmDash block becomes Pilcrow blocks, and what
// Pilcrow cannot draw says so.
func TestShimBlocks(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{type: "header", text: "H"}`, `[{"type":"header","text":"H"}]`},
		{`{type: "section", text: "S", accessory: {type: "button", action_id: "go", label: "Go", value: {id: 1}, style: "primary"}}`,
			`[{"type":"text","text":"S"},{"type":"button","label":"Go","actionId":"b-go","style":"primary","value":"{\"id\":1}"}]`},
		{`{type: "context", text: "C"}`, `[{"type":"text","text":"C"}]`},
		{`{type: "divider"}`, `[{"type":"divider"}]`},
		{`{type: "fields", fields: [{label: "L", value: "V"}]}`, `[{"type":"fields","items":[{"label":"L","value":"V"}]}]`},
		{`{type: "stats", items: [{label: "L", value: 3, trend: "up", description: "d"}]}`, `[{"type":"stats","items":[{"label":"L","value":"3","trend":"up"}]}]`},
		{`{type: "table", columns: [{key: "a", label: "A", format: "badge"}], rows: [{a: 1}], next_cursor: "c2", page_action_id: "more"}`,
			`[{"type":"table","columns":[{"key":"a","label":"A"}],"rows":[{"a":1}],"nextCursor":"more c2"}]`},
		{`{type: "table", columns: [{key: "a", label: "A"}], rows: [], page_action_id: "more", empty_text: "None"}`, `[{"type":"text","text":"None"}]`},
		{`{type: "actions", elements: [{type: "button", action_id: "x", label: "X"}, {type: "toggle", action_id: "t", label: "T", initial_value: true}]}`,
			`[{"type":"button","label":"X","actionId":"b-x"},{"type":"form","id":"f-t","inputs":[{"type":"toggle","name":"t","label":"T","value":true}],"submit":{"label":"Save","actionId":"f-t"}}]`},
		{`{type: "form", block_id: "add", fields: [{type: "text_input", action_id: "a", label: "A", multiline: true}, {type: "number_input", action_id: "n", label: "N", initial_value: 2},
			{type: "combobox", action_id: "c", label: "C", options: [{label: "x", value: "x"}]}, {type: "date_input", action_id: "d", label: "D"}, {type: "checkbox", action_id: "k", label: "K", options: []}],
			submit: {label: "Go", action_id: "save"}}`,
			`[{"type":"form","id":"add","inputs":[{"type":"textarea","name":"a","label":"A"},{"type":"number","name":"n","label":"N","value":2},{"type":"select","name":"c","label":"C","options":[{"label":"x","value":"x"}]},{"type":"date","name":"d","label":"D"}],"submit":{"label":"Go","actionId":"f-save"}},{"type":"text","text":"(form field K: a checkbox is not available in Pilcrow's admin)"}]`},
		{`{type: "image", url: "https://i.example/a.png", alt: "A"}`, `[{"type":"link","label":"A","href":"https://i.example/a.png"}]`},
		{`{type: "columns", columns: [[{type: "header", text: "1"}], [{type: "divider"}]]}`, `[{"type":"header","text":"1"},{"type":"divider"}]`},
		{`{type: "banner", title: "T", description: "D", variant: "alert"}`, `[{"type":"text","text":"T\n\nD"}]`},
		{`{type: "meter", label: "M", value: 3, max: 10}`, `[{"type":"stats","items":[{"label":"M","value":"3 / 10"}]}]`},
		{`{type: "code", code: "x = 1"}`, `[{"type":"text","text":"x = 1"}]`},
		{`{type: "tab", panels: [{label: "P", blocks: [{type: "divider"}]}]}`, `[{"type":"header","text":"P"},{"type":"divider"}]`},
		{`{type: "accordion", label: "A", blocks: [{type: "context", text: "in"}]}`, `[{"type":"header","text":"A"},{"type":"text","text":"in"}]`},
		{`{type: "empty", title: "E", description: "D", actions: [{type: "button", action_id: "new", label: "New"}]}`,
			`[{"type":"header","text":"E"},{"type":"text","text":"D"},{"type":"button","label":"New","actionId":"b-new"}]`},
		{`{type: "chart", config: {}}`, `[{"type":"text","text":"(a chart: not drawn by Pilcrow's admin)"}]`},
		{`{type: "marquee"}`, `[{"type":"text","text":"(a marquee block: not drawn by Pilcrow's admin)"}]`},
		{`{type: "section", text: "S", accessory: {type: "button", action_id: "has space", label: "B"}}`,
			`[{"type":"text","text":"S"},{"type":"text","text":"(button B: its action_id cannot be carried by Pilcrow's admin)"}]`},
	}
	rt := shimRuntime(t)
	for _, c := range cases {
		v, err := rt.RunString(`JSON.stringify(shim.blocksOf([` + c.in + `]))`)
		if err != nil {
			t.Fatal(err)
		}
		if v.String() != c.want {
			t.Errorf("blocksOf(%s)\n = %s\nwant %s", c.in, v, c.want)
		}
	}
	// Toasts: EmDash's {message, type} becomes Pilcrow's {message}.
	v, _ := rt.RunString(`JSON.stringify(shim.answerOf({ blocks: [], toast: { message: "Saved", type: "success" } }))`)
	if v.String() != `{"blocks":[],"toast":{"message":"Saved"}}` {
		t.Errorf("answer = %s", v)
	}
}

// TestShimInteractions: Pilcrow's admin requests become EmDash interactions.
func TestShimInteractions(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{type: "page", path: "/notes", query: {}}`, `{"type":"page_load","page":"/notes"}`},
		{`{type: "widget", id: "w", query: {}}`, `{"type":"page_load","page":"widget:w"}`},
		{`{type: "page", path: "/notes", query: {cursor: "more abc def"}}`, `{"type":"block_action","action_id":"more","value":"abc def"}`},
		{`{type: "action", actionId: "b-remove", values: {value: "{\"id\":\"n1\"}"}, path: "/notes", query: {}}`, `{"type":"block_action","action_id":"remove","value":{"id":"n1"}}`},
		{`{type: "action", actionId: "b-go", values: {}, widget: "w", query: {}}`, `{"type":"block_action","action_id":"go"}`},
		{`{type: "action", actionId: "f-save", values: {a: "x", n: 2, t: true}, path: "/p", query: {}}`, `{"type":"form_submit","action_id":"save","values":{"a":"x","n":2,"t":true}}`},
	}
	rt := shimRuntime(t)
	for _, c := range cases {
		v, err := rt.RunString(`JSON.stringify(shim.interactionOf(` + c.in + `))`)
		if err != nil {
			t.Fatal(err)
		}
		if v.String() != c.want {
			t.Errorf("interactionOf(%s) = %s, want %s", c.in, v, c.want)
		}
	}
}

// TestShimRouteContext: {input, request, requestMeta, user} from Pilcrow's
// route request.
func TestShimRouteContext(t *testing.T) {
	rt := shimRuntime(t)
	v, err := rt.RunString(`JSON.stringify([
  shim.routeContext({ method: "GET", path: "r", query: { q: "1" }, headers: { "user-agent": "UA", referer: "https://r.example/" }, body: null, ip: "203.0.113.7", url: "https://s.example/api/p/x/r?q=1" }),
  shim.routeContext({ method: "post", query: { q: "1" }, headers: {}, body: { a: 1 }, ip: "", url: "u", user: { id: "u1", name: "Ada", role: "editor" } }),
])`)
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(v.String()), &got); err != nil {
		t.Fatal(err)
	}
	want := `[{"input":{"q":"1"},"request":{"headers":{"referer":"https://r.example/","user-agent":"UA"},"method":"GET","url":"https://s.example/api/p/x/r?q=1"},"requestMeta":{"geo":null,"ip":"203.0.113.7","referer":"https://r.example/","userAgent":"UA"}},{"input":{"a":1},"request":{"headers":{},"method":"POST","url":"u"},"requestMeta":{"geo":null,"ip":null,"referer":null,"userAgent":null},"user":{"createdAt":null,"email":null,"id":"u1","name":"Ada","role":40}}]`
	b, _ := json.Marshal(got)
	if string(b) != want {
		t.Fatalf("route contexts = %s\nwant %s", b, want)
	}
}

// TestShimStorage: declared collections pass through; an undeclared one
// is an error naming it.
func TestShimStorage(t *testing.T) {
	rt := shimRuntime(t)
	v, err := rt.RunString(`(function () {
  var ctx = fakeCtx();
  ctx.storage = Object.freeze({ events: Object.freeze({ get: function () { return "got"; } }) });
  var c = shim.emdashCtx(ctx, { hooks: [], routes: [], settings: [] });
  var msg;
  try { c.storage.secrets.put("a", 1); } catch (e) { msg = e.message; }
  return JSON.stringify({ declared: c.storage.events.get("x"), undeclared: msg, then: typeof c.storage.then });
})()`)
	if err != nil {
		t.Fatal(err)
	}
	if v.String() != `{"declared":"got","undeclared":"storage collection \"secrets\" is not declared in the plugin's manifest","then":"undefined"}` {
		t.Fatalf("got %s", v)
	}
}

// TestShimInvalidInput: a failed input schema becomes a problem document whatever
// shape the schema library's error has: each issue named in the detail, its
// path as a JSON Pointer (escaped), and EmDash's members kept.
func TestShimInvalidInput(t *testing.T) {
	rt := shimRuntime(t)
	for _, tc := range []struct {
		name, error, want string
	}{
		{"zod issues", `{issues: [{code: "too_small", path: ["a/b", "c~d", 0], message: "too short"}, {code: "custom", path: [], message: "bad"}]}`,
			`{"body":{"detail":"the input does not match the route's schema: a/b.c~d.0: too short; bad","error":"Invalid input","errors":[{"message":"too short","path":"/a~1b/c~0d/0"},{"message":"bad","path":""}],"issues":[{"code":"too_small","message":"too short","path":["a/b","c~d",0]},{"code":"custom","message":"bad","path":[]}],"status":400,"title":"Invalid input","type":"about:blank"},"headers":{"content-type":"application/problem+json"},"status":400}`},
		{"no issues, a message", `{message: "nope"}`,
			`{"body":{"detail":"the input does not match the route's schema: nope","error":"Invalid input","errors":[],"issues":[],"status":400,"title":"Invalid input","type":"about:blank"},"headers":{"content-type":"application/problem+json"},"status":400}`},
		{"malformed issues", `{issues: [null, 3, {path: "x", message: 7}]}`,
			`{"body":{"detail":"the input does not match the route's schema: invalid","error":"Invalid input","errors":[{"message":"invalid","path":""}],"issues":[{"code":"custom","message":"invalid","path":[]}],"status":400,"title":"Invalid input","type":"about:blank"},"headers":{"content-type":"application/problem+json"},"status":400}`},
		{"no error at all", `undefined`,
			`{"body":{"detail":"the input does not match the route's schema","error":"Invalid input","errors":[],"issues":[],"status":400,"title":"Invalid input","type":"about:blank"},"headers":{"content-type":"application/problem+json"},"status":400}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := rt.RunString(`JSON.stringify(shim.invalidInput(` + tc.error + `))`)
			if err != nil {
				t.Fatal(err)
			}
			var got any
			if err := json.Unmarshal([]byte(v.String()), &got); err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(got)
			if string(b) != tc.want {
				t.Errorf("got  %s\nwant %s", b, tc.want)
			}
		})
	}
}
