package authoring

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

// TestTypesAdmin: a plugin declaring the admin route gets the admin
// request and answer and every block of the vocabulary, its admin handler
// typed by them; with PILCROW_TSC, a handler using each block and request
// kind type-checks, and answers the host would drop do not.
func TestTypesAdmin(t *testing.T) {
	dts, err := Types(TypesInput{Capabilities: []string{"content:read"}, Routes: []string{"admin", "events"}})
	if err != nil {
		t.Fatal(err)
	}
	s := string(dts)
	_, union, _ := strings.Cut(s, "  type Block = ")
	union, _, _ = strings.Cut(union, ";\n")
	members := strings.Split(union, " | ")
	for _, bt := range manifest.Blocks() {
		if !declaresType(s, bt.Interface) || !strings.Contains(s, `type: "`+bt.Type+`";`) {
			t.Errorf("block %s (%s) is not declared", bt.Type, bt.Interface)
		}
		if !slices.Contains(members, bt.Interface) {
			t.Errorf("block %s is not in the Block union %q", bt.Interface, union)
		}
	}
	for _, typ := range []string{"AdminRequest", "AdminRouteRequest", "AdminAnswer", "AdminRouteHandler"} {
		if !declaresType(s, typ) {
			t.Errorf("%s is not declared", typ)
		}
	}
	if !strings.Contains(s, `"admin": AdminRouteHandler;`) || !strings.Contains(s, `"events": RouteHandler;`) {
		t.Error("the admin route is not typed AdminRouteHandler (or another route is)")
	}
	plain, err := Types(TypesInput{Routes: []string{"events"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(plain), "AdminRequest") {
		t.Error("a plugin without the admin route gets the admin typings")
	}

	tsc := os.Getenv("PILCROW_TSC")
	if tsc == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but PILCROW_TSC is not: the generated types must be type-checked")
		}
		t.Skip("PILCROW_TSC is not set")
	}
	good := `export default {
  routes: {
    events: () => ({ ok: true }),
    admin: async (request, ctx) => {
      const req = request.body;
      if (req.type === "widget") {
        return { blocks: [{ type: "stats", items: [{ label: req.id, value: 1, trend: "+1" }] }] };
      }
      if (req.type === "action") {
        const n: string | number | boolean | null = req.values.name;
        return { toast: "Saved " + String(n) + (req.widget ?? req.path ?? ""), blocks: [] };
      }
      const cursor: string | undefined = req.query.cursor;
      const user: string = request.user?.name ?? ctx.plugin.id;
      return {
        toast: { message: "hi" },
        blocks: [
          { type: "header", text: req.path + user },
          { type: "text", text: "**bold** [docs](/admin/)" },
          { type: "fields", items: [{ label: "a", value: { nested: [1] } }] },
          { type: "table", columns: [{ key: "a", label: "A" }], rows: [{ a: 1, b: null }], nextCursor: cursor },
          { type: "divider" },
          { type: "form", id: "f", inputs: [
            { type: "text", name: "name", label: "Name", value: "x" },
            { type: "number", name: "n", label: "N", value: 2 },
            { type: "toggle", name: "t", label: "T", value: true },
            { type: "select", name: "s", label: "S", options: [{ label: "A", value: "a" }] },
          ], submit: { label: "Go", actionId: "go" } },
          { type: "button", label: "Redeliver", actionId: "redeliver", style: "danger", value: "id1" },
          { type: "link", label: "Docs", href: "https://example.com/" },
        ],
      };
    },
  },
} satisfies Pilcrow.Plugin;
`
	bad := map[string]string{
		"unknown block":       `{ type: "marquee", text: "x" }`,
		"button style":        `{ type: "button", label: "B", actionId: "b", style: "green" }`,
		"button without id":   `{ type: "button", label: "B" }`,
		"select sans options": `{ type: "form", id: "f", inputs: [{ type: "select", name: "s", label: "S" }], submit: { label: "Go", actionId: "go" } }`,
		"table rows":          `{ type: "table", columns: [{ key: "a" }], rows: [] }`,
	}
	check := func(name, src string, wantOK bool) {
		dir := filepath.Join(t.TempDir(), "admin")
		if err := Scaffold(dir, ScaffoldOptions{}); err != nil {
			t.Fatal(err)
		}
		writeTree(t, dir, map[string]string{"pilcrow.d.ts": s, "src/plugin.ts": src})
		out, err := exec.Command(tsc, "-p", dir).CombinedOutput()
		if (err == nil) != wantOK {
			t.Errorf("%s: tsc ok = %v, want %v\n%s", name, err == nil, wantOK, out)
		}
	}
	check("good", good, true)
	check("query is not the request", strings.Replace(good, "req.query.cursor", "request.body.cursor", 1), false)
	for name, block := range bad {
		check(name, strings.Replace(good, `{ type: "divider" },`, block+",", 1), false)
	}
}
