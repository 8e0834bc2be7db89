package authoring

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

func declaresType(dts, typ string) bool {
	return regexp.MustCompile(`(?m)^  (interface|type) ` + regexp.QuoteMeta(typ) + `\b`).MatchString(dts)
}

// TestTypesCoverVocabulary fails when pilcrow.d.ts misses a member, method or
// hook of the manifest vocabulary: for each capability alone and for all of
// them, Context has exactly the ctx members the sandbox builds, each typed by a
// declared type, and every hook has its declared event. With PILCROW_TSC, tsc
// also checks that every method of every member exists on its type.
func TestTypesCoverVocabulary(t *testing.T) {
	var hooks []string
	for _, h := range manifest.AllHooks() {
		hooks = append(hooks, string(h))
	}
	grants := [][]manifest.Capability{manifest.AllCapabilities()}
	for _, c := range manifest.AllCapabilities() {
		grants = append(grants, []manifest.Capability{c})
	}
	tsc := os.Getenv("PILCROW_TSC")
	if tsc == "" && os.Getenv("CI") != "" {
		t.Fatal("CI is set but PILCROW_TSC is not: the generated types must be type-checked")
	}
	for _, caps := range grants {
		in := TypesInput{Hooks: hooks, StorageCollections: []string{"posts"}}
		for _, c := range caps {
			in.Capabilities = append(in.Capabilities, string(c))
		}
		out, err := Types(in)
		if err != nil {
			t.Fatalf("%v: %v", caps, err)
		}
		dts := string(out)
		_, ctxDecl, _ := strings.Cut(dts, "  interface Context {\n")
		ctxDecl, _, _ = strings.Cut(ctxDecl, "  }\n")
		var members []string
		var uses strings.Builder // every method, referenced from a plugin
		for _, api := range manifest.CtxAPIs(caps, manifest.AllHooks()...) {
			members = append(members, fmt.Sprintf("    readonly %s: %s;\n", api.Namespace, api.Type))
			if !strings.HasPrefix(api.Type, "{") && !declaresType(dts, api.Type) {
				t.Errorf("%v: ctx.%s is typed %s, which is not declared", caps, api.Namespace, api.Type)
			}
			obj := "ctx." + api.Namespace
			if api.Kind == manifest.CollectionAPI {
				obj += ".posts"
			}
			for _, m := range api.Methods {
				fmt.Fprintf(&uses, "      void %s.%s;\n", obj, m.Name)
			}
		}
		if ctxDecl != strings.Join(members, "") {
			t.Errorf("%v: Context is\n%s\nwant\n%s", caps, ctxDecl, strings.Join(members, ""))
		}
		for _, h := range manifest.Hooks() {
			sig := fmt.Sprintf("    %q: Hook<%s, %s>;", h.Name, h.Event, h.Returns)
			if !strings.Contains(dts, sig) || !declaresType(dts, h.Event) {
				t.Errorf("%v: hook %s is not typed as %s with its event declared", caps, h.Name, sig)
			}
		}
		if tsc == "" || len(caps) == 1 {
			continue
		}
		var src strings.Builder
		src.WriteString("export default {\n  hooks: {\n")
		for i, h := range hooks {
			if i == 0 {
				fmt.Fprintf(&src, "    %q: (_event, ctx) => {\n%s    },\n", h, uses.String())
				continue
			}
			fmt.Fprintf(&src, "    %q: () => {},\n", h)
		}
		src.WriteString("  },\n} satisfies Pilcrow.Plugin;\n")
		dir := filepath.Join(t.TempDir(), "every-api")
		if err := Scaffold(dir, ScaffoldOptions{}); err != nil {
			t.Fatal(err)
		}
		writeTree(t, dir, map[string]string{"pilcrow.d.ts": dts, "src/plugin.ts": src.String()})
		if out, err := exec.Command(tsc, "-p", dir).CombinedOutput(); err != nil {
			t.Fatalf("tsc on a plugin using every method of %v: %v\n%s\n%s", caps, err, out, src.String())
		}
	}
}

// TestTypesStorageAndCron type-checks a plugin using the storage and cron
// APIs the way docs/plugins.md shows them, and checks that ctx.cron is a
// type error for a plugin without the cron hook.
func TestTypesStorageAndCron(t *testing.T) {
	tsc := os.Getenv("PILCROW_TSC")
	if tsc == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but PILCROW_TSC is not")
		}
		t.Skip("PILCROW_TSC is not set")
	}
	const uses = `export default {
  hooks: {
    cron: async (event, ctx) => {
      const subs = ctx.storage.subscribers as Pilcrow.StorageCollection<{ email: string; status: string; createdAt: number }>;
      await subs.put("s1", { email: "a@example.com", status: "new", createdAt: 1 });
      await subs.putMany([{ id: "s2", data: { email: "b@example.com", status: "new", createdAt: 2 } }]);
      const many: Map<string, { email: string }> = await subs.getMany(["s1", "s2"]);
      const n: number = await subs.deleteMany(["s9"]);
      const there: boolean = await subs.exists("s1");
      let cursor: string | undefined;
      do {
        const page = await subs.query({
          where: { status: { in: ["new", "read"] }, createdAt: { gte: 0, lt: 10 }, email: { startsWith: "a" } },
          orderBy: { createdAt: "desc" }, limit: 100, cursor,
        });
        for (const item of page.items) ctx.log.info(item.id + item.data.email);
        cursor = page.cursor;
        const more: boolean = page.hasMore;
      } while (cursor);
      await subs.query({ orderBy: ["-createdAt", { email: "asc" }] });
      await subs.query({ where: { status: null }, orderBy: "createdAt" });
      const c: number = await subs.count({ status: "new" });
      await ctx.cron.schedule("digest", "@daily", { list: "weekly" });
      await ctx.cron.schedule("cleanup", { schedule: "0 3 * * *" });
      const gone: boolean = await ctx.cron.cancel("digest");
      for (const s of await ctx.cron.list()) ctx.log.info(s.name + s.nextRunAt + s.source);
      const when: string = event.scheduledAt;
      const name: string = event.name;
      if (event.name === "nightly") ctx.log.info(String(event.data));
      void many; void n; void there; void c; void gone; void when; void name;
    },
  },
} satisfies Pilcrow.Plugin;
`
	run := func(hooks []string, src string) error {
		dts, err := Types(TypesInput{Hooks: hooks, StorageCollections: []string{"subscribers"}, CronSchedules: []string{"nightly"}})
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "store-plugin")
		if err := Scaffold(dir, ScaffoldOptions{}); err != nil {
			t.Fatal(err)
		}
		writeTree(t, dir, map[string]string{"pilcrow.d.ts": string(dts), "src/plugin.ts": src})
		out, err := exec.Command(tsc, "-p", dir).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v\n%s", err, out)
		}
		return nil
	}
	if err := run([]string{"cron"}, uses); err != nil {
		t.Fatalf("tsc on the storage and cron APIs: %v", err)
	}
	noCron := strings.Replace(uses, "cron: async", "\"plugin:activate\": async", 1)
	err := run([]string{"plugin:activate"}, noCron)
	if err == nil || !strings.Contains(err.Error(), "cron") {
		t.Fatalf("ctx.cron type-checked without the cron hook: %v", err)
	}
}

// TestTypesGlobals: every web global of the vocabulary is declared, and
// with PILCROW_TSC a plugin using them, the fetch init and response shapes,
// ctx.site, ctx.url and a hook exported as an object type-checks, while
// misuse does not.
func TestTypesGlobals(t *testing.T) {
	dts, err := Types(TypesInput{Capabilities: []string{"network:request", "content:write"}, Hooks: []string{"content:beforeSave", "content:afterSave"}, Routes: []string{"r"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range manifest.Globals() {
		if !regexp.MustCompile(`(?m)^declare (class|function|var) ` + g.Name + `\b`).Match(dts) {
			t.Errorf("global %s is not declared", g.Name)
		}
	}
	tsc := os.Getenv("PILCROW_TSC")
	if tsc == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but PILCROW_TSC is not: the generated types must be type-checked")
		}
		t.Skip("PILCROW_TSC is not set")
	}
	good := `export default {
  hooks: {
    "content:beforeSave": {
      priority: 10,
      timeoutMs: 500,
      async handler(event, ctx) {
        const u = new URL("/x?y=1", ctx.site.url);
        u.searchParams.append("z", ctx.url("/posts"));
        const bytes: Uint8Array = new TextEncoder().encode(u.href);
        const text: string = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
        const digest: ArrayBuffer = await crypto.subtle.digest("SHA-256", bytes);
        const key = await crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
        const sig = await crypto.subtle.sign("HMAC", key, bytes);
        const ok: boolean = await crypto.subtle.verify("HMAC", key, sig, bytes);
        const id: string = crypto.randomUUID() + btoa(atob("YQ==")) + crypto.getRandomValues(new Uint8Array(4)).length;
        const t = setTimeout((a: string) => a, 10, "x"); clearTimeout(t);
        queueMicrotask(() => {});
        const copy = structuredClone({ a: 1 });
        const c = new AbortController();
        const res = await ctx.http.fetch(u, { method: "POST", headers: new Headers([["x-a", "1"]]), body: new URLSearchParams({ a: "b" }), signal: AbortSignal.any([c.signal, AbortSignal.timeout(1000)]) });
        const h: string | null = res.headers.get("content-type");
        res.headers.forEach((v, k) => v + k);
        const buf: ArrayBuffer = await res.arrayBuffer();
        if (!ok || !text || !digest || !id || !copy || !h || !buf) throw new DOMException("no", "AbortError");
        return { ...event.data, n: copy.a };
      },
    },
    "content:afterSave": (event, ctx) => { ctx.log.info(ctx.site.timezone + ctx.site.locale + ctx.site.name) },
  },
  routes: { r: (req) => ({ ip: req.ip, url: req.url }) },
} satisfies Pilcrow.Plugin;
`
	bad := map[string]string{
		"number path":      `ctx.url(42)`,
		"object hook":      `"content:beforeSave": { priority: 1 }`,
		"headers number":   `ctx.http.fetch("https://x", { headers: 5 })`,
		"decoder label":    `new TextDecoder("latin1")`,
		"digest algorithm": `crypto.subtle.digest("MD5", new Uint8Array(1))`,
	}
	check := func(name, src string, wantOK bool) {
		dir := filepath.Join(t.TempDir(), "globals")
		if err := Scaffold(dir, ScaffoldOptions{}); err != nil {
			t.Fatal(err)
		}
		writeTree(t, dir, map[string]string{"pilcrow.d.ts": string(dts), "src/plugin.ts": src})
		out, err := exec.Command(tsc, "-p", dir).CombinedOutput()
		if (err == nil) != wantOK {
			t.Errorf("%s: tsc ok = %v, want %v\n%s", name, err == nil, wantOK, out)
		}
	}
	check("good", good, true)
	for name, snippet := range bad {
		src := good
		switch {
		case strings.HasPrefix(snippet, `"content:beforeSave"`):
			src = "export default { hooks: { " + snippet + `, "content:afterSave": () => {} }, routes: { r: () => 1 } } satisfies Pilcrow.Plugin;`
		default:
			src = strings.Replace(good, "queueMicrotask(() => {});", "queueMicrotask(() => {}); "+snippet+";", 1)
		}
		check(name, src, false)
	}
}
