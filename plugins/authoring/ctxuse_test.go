package authoring

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

func TestCtxUses(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // "line:col ns.member"
	}{
		{"call", "await ctx.http.fetch(url);", []string{"1:7 http.fetch"}},
		{"namespace only", "if (ctx.email) {}", []string{"1:5 email."}},
		{"optional chaining and spaces", "ctx?.media ?. upload(x)", []string{"1:1 media.upload"}},
		{"second line, unicode before", "const é = 1;\n  x(ctx.users.list())", []string{"2:5 users.list"}},
		{"line comment", "// ctx.http.fetch\nctx.kv.get(k)", []string{"2:1 kv.get"}},
		{"block comment", "/* ctx.http.fetch \n ctx.email.send */ ctx.log.info()", []string{"2:20 log.info"}},
		{"strings", `log("ctx.http.fetch", 'ctx.email.send') + ctx.kv.set(a, "b")`, []string{"1:43 kv.set"}},
		{"escaped quote", `s = "a\" ctx.http.fetch"; ctx.site`, []string{"1:27 site."}},
		{"template text and substitution", "`ctx.http ${ctx.content.get(a, {b: 1})} ctx.email` + ctx.url(p)", []string{"1:13 content.get", "1:54 url."}},
		{"other objects named like ctx", "myctx.http.fetch(); obj.ctx.http; context.http", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, u := range ctxUses(tt.src) {
				got = append(got, fmtUse(u))
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("uses %q, want %q", got, tt.want)
			}
		})
	}
}

func fmtUse(u ctxUseAt) string {
	return fmt.Sprintf("%d:%d %s.%s", u.line, columnOf(u.lineText, u.byteCol), u.namespace, u.member)
}

// TestCheckCtxGrants: a use the manifest does not grant is a warning at its
// file, line and column, in imported files too; granted uses and node_modules
// are not reported.
func TestCheckCtxGrants(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"src/plugin.ts": `import { notify } from "./notify";
import { lib } from "lib";
export default {
  hooks: {
    "content:afterSave": async (event, ctx) => {
      await ctx.kv.set("last", event.id);
      const e = await ctx.content.get(event.collection, event.id);
      await ctx.content.update(event.collection, event.id, {});
      await notify(ctx, lib);
    },
  },
};
`,
		"src/notify.ts":                 "export async function notify(ctx: any, x: unknown) {\n  await ctx.http.fetch(\"https://example.com\");\n}\n",
		"node_modules/lib/index.js":     "export const lib = (ctx) => ctx.email.send({});\n",
		"node_modules/lib/package.json": `{"name": "lib", "main": "index.js"}`,
	}
	for name, src := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Build(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Sources, ",") != "src/notify.ts,src/plugin.ts" {
		t.Fatalf("sources %v", res.Sources)
	}
	m := &manifest.Manifest{ID: "p", Version: "1.0.0", Capabilities: []manifest.Capability{manifest.ContentRead},
		Hooks: []manifest.Hook{{Name: manifest.HookAfterSave}}}
	ws, err := CheckCtxGrants(dir, res.Sources, m)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range ws {
		got = append(got, w.String())
	}
	want := []string{
		`src/notify.ts:2:9: warning: ctx.http.fetch needs the "network:request" capability, which the manifest does not declare; the plugin's ctx has no ctx.http`,
		`src/plugin.ts:8:13: warning: ctx.content.update needs the "content:write" capability, which the manifest does not declare`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
