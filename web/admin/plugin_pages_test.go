package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/plugins"
	"github.com/pilcrow-cms/pilcrow/plugins/authoring"
	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
)

// blocksPlugin answers a page with a paged table and a form, a widget, a
// page of malformed blocks and a page whose text tries stored XSS. Its rows
// live in kv-free memory: the page derives them from the cursor alone.
const blocksPlugin = `
const tick = String.fromCharCode(96);
const xss = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned=2">';
export default {
  routes: {
    admin: async (request, ctx) => {
      const req = request.body;
      if (req.type === "widget") {
        return { blocks: [{ type: "stats", items: [{ label: "Events today", value: 42, trend: "+3" }] }] };
      }
      if (req.type === "action" && req.actionId === "greet") {
        return { toast: "Hello, " + req.values.name + "!", blocks: [
          { type: "header", text: "Greeted " + req.values.name },
          { type: "fields", items: [{ label: "Loud", value: String(req.values.loud) }, { label: "Times", value: req.values.times }] },
        ] };
      }
      if (req.path === "/broken") {
        return { blocks: [
          { type: "header", text: "Still here" },
          { type: "marquee", text: "no" },
          { type: "table", columns: "nope" },
          { type: "link", label: "evil", href: "javascript:alert(1)" },
          "just a string",
          { type: "text", text: "After the broken ones" },
        ] };
      }
      if (req.path === "/xss") {
        return { blocks: [
          { type: "header", text: xss },
          { type: "text", text: xss },
          { type: "text", text: "**" + xss + "** and [click](javascript:window.__pwned=3) and [data](data:text/html,<script>window.__pwned=4</script>)" +
            " and [quote](/a\" onmouseover=\"window.__pwned=5) and *[ok](/admin/)* and " + tick + "<b>code</b>" + tick },
          { type: "table", columns: [{ key: "a", label: xss }], rows: [{ a: xss }] },
          { type: "link", label: xss, href: "/admin/" },
        ] };
      }
      const page = Number(req.query.cursor || 0);
      const rows = [0, 1].map((i) => ({ n: "row " + (page * 2 + i), who: req.query.who || "anyone" }));
      return { blocks: [
        { type: "header", text: "History" },
        { type: "table", columns: [{ key: "n", label: "Row" }, { key: "who", label: "Who" }], rows,
          nextCursor: page < 2 ? String(page + 1) : undefined },
        { type: "divider" },
        { type: "form", id: "greet", inputs: [
          { type: "text", name: "name", label: "Name" },
          { type: "toggle", name: "loud", label: "Loud" },
          { type: "number", name: "times", label: "Times", value: 1 },
        ], submit: { label: "Greet", actionId: "greet" } },
      ] };
    },
  },
};
`

func installBlocksPlugin(t *testing.T, as *adminSite) {
	t.Helper()
	dir := t.TempDir()
	mf, _ := json.Marshal(map[string]any{
		"id": "blocks-demo", "version": "1.0.0", "name": "Blocks demo",
		"routes": []map[string]any{{"name": "admin"}},
		"admin": map[string]any{
			"pages":   []map[string]any{{"path": "/history", "label": "History"}, {"path": "/broken", "label": "Broken"}, {"path": "/xss", "label": "XSS"}},
			"widgets": []map[string]any{{"id": "today", "title": "Today", "size": "half"}},
		},
	})
	if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), mf, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "src", "plugin.js"), []byte(blocksPlugin), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := authoring.Build(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := bundle.Write(&buf, &bundle.Bundle{ManifestJSON: mf, Script: res.Script}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	in, err := as.Site.Plugins.Install(ctx, buf.Bytes(), "", false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(in.Consent.Lines, "\n"), "Adds 3 pages to the admin and 1 widget to the dashboard") {
		t.Fatalf("consent lines lack the admin line: %q", in.Consent.Lines)
	}
	if _, err := as.Site.Plugins.Activate(ctx, in.ID, plugins.Grant{Capabilities: in.Consent.Capabilities, AllowedHosts: in.Consent.AllowedHosts}, ""); err != nil {
		t.Fatal(err)
	}
}

func TestAdminPluginPages(t *testing.T) {
	as := newAdminSite(t)
	ctx := newBrowser(t, 3*time.Minute)
	installBlocksPlugin(t, as)
	signedIn(t, ctx, as, "admin@example.com", cms.RoleAdmin)

	t.Run("widget on the dashboard", func(t *testing.T) {
		run(t, ctx, "dashboard", chromedp.Navigate(as.URL+"/admin/"), chromedp.WaitVisible(chromedp.CSS(".widget .block-stats")))
		if got := text(t, ctx, ".widget"); !strings.Contains(got, "Today") || !strings.Contains(got, "42") || !strings.Contains(got, "Events today") {
			t.Fatalf("widget = %q", got)
		}
		if got := text(t, ctx, "#plugin-pages"); !strings.Contains(got, "Blocks demo: History") {
			t.Fatalf("navigation lacks the plugin's pages: %q", got)
		}
	})

	t.Run("table, paging and a form action", func(t *testing.T) {
		run(t, ctx, "history", chromedp.Navigate(as.URL+"/admin/plugins/blocks-demo/history"), chromedp.WaitVisible(chromedp.CSS(".block-table")))
		if got := text(t, ctx, ".block-table tbody"); !strings.Contains(got, "row 0") || !strings.Contains(got, "row 1") {
			t.Fatalf("first page = %q", got)
		}
		run(t, ctx, "next page", chromedp.Click(chromedp.CSS("a.next-page")), chromedp.WaitVisible(chromedp.CSS(".block-table")))
		if got := text(t, ctx, ".block-table tbody"); !strings.Contains(got, "row 2") || strings.Contains(got, "row 0") {
			t.Fatalf("second page = %q", got)
		}
		run(t, ctx, "last page", chromedp.Click(chromedp.CSS("a.next-page")), chromedp.WaitVisible(chromedp.CSS(".block-table")))
		if n := get(t, ctx, "next link on the last page", chromedp.Evaluate[int](`document.querySelectorAll("a.next-page").length`)); n != 0 {
			t.Fatalf("the last page has %d next links", n)
		}
		run(t, ctx, "greet",
			chromedp.SendKeys(chromedp.CSS(`form[data-form=greet] input[name="v.name"]`), "Ada"),
			chromedp.Click(chromedp.CSS(`form[data-form=greet] input[name="v.loud"]`)),
			chromedp.Click(chromedp.CSS(`form[data-form=greet] button[type=submit]`)),
			noticeIs("Hello, Ada!"),
		)
		if got := text(t, ctx, "#plugin-blocks"); !strings.Contains(got, "Greeted Ada") || !strings.Contains(got, "true") || !strings.Contains(got, "1") {
			t.Fatalf("action answer = %q", got)
		}
	})

	t.Run("malformed blocks are dropped, the page renders", func(t *testing.T) {
		run(t, ctx, "broken", chromedp.Navigate(as.URL+"/admin/plugins/blocks-demo/broken"), chromedp.WaitVisible(chromedp.CSS("#plugin-blocks h2")))
		got := text(t, ctx, "#plugin-blocks")
		if !strings.Contains(got, "Still here") || !strings.Contains(got, "After the broken ones") || strings.Contains(got, "evil") {
			t.Fatalf("broken page = %q", got)
		}
		if err := as.Site.Plugins.Logs().Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		page, err := as.Site.Plugins.PluginLogs(context.Background(), "blocks-demo", plugins.LogQuery{})
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, inv := range page.Items {
			for _, l := range inv.Lines {
				lines = append(lines, l.Message)
			}
		}
		all := strings.Join(lines, "\n")
		for _, want := range []string{`block 1: unknown type "marquee"`, "block 2 (table)", "block 3 (link): href", "block 4: not an object"} {
			if !strings.Contains(all, want) {
				t.Errorf("plugin log lacks %q:\n%s", want, all)
			}
		}
	})

	t.Run("stored XSS through block text", func(t *testing.T) {
		run(t, ctx, "xss", chromedp.Navigate(as.URL+"/admin/plugins/blocks-demo/xss"), chromedp.WaitVisible(chromedp.CSS("#plugin-blocks h2")))
		if n := get(t, ctx, "script ran?", chromedp.Evaluate[int](`window.__pwned || 0`)); n != 0 {
			t.Fatalf("plugin markup ran script (%d)", n)
		}
		if n := get(t, ctx, "injected elements", chromedp.Evaluate[int](`document.querySelectorAll("#plugin-blocks script, #plugin-blocks img").length`)); n != 0 {
			t.Fatalf("%d injected elements on the page", n)
		}
		if got := text(t, ctx, "#plugin-blocks h2"); !strings.Contains(got, "<script>window.__pwned = 1</script>") {
			t.Fatalf("the markup is not shown as text: %q", got)
		}
		// Through the text block's Markdown: bold holds the markup as text,
		// unsafe links stay text, the safe one is a link, code is code.
		if n := get(t, ctx, "unsafe attributes", chromedp.Evaluate[int](`Array.from(document.querySelectorAll("#plugin-blocks *")).filter((e) =>
			Array.from(e.attributes).some((a) => a.name.startsWith("on") || /^\s*(javascript|data):/i.test(a.value))).length`)); n != 0 {
			t.Fatalf("%d elements with event handlers or script URLs", n)
		}
		links := get(t, ctx, "links", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#plugin-blocks .block-text a")).map((a) => a.getAttribute("href"))`))
		if len(links) != 1 || links[0] != "/admin/" {
			t.Fatalf("text links = %q, want only the safe one", links)
		}
		if got := text(t, ctx, "#plugin-blocks .block-text strong"); !strings.Contains(got, `<img src=x onerror="window.__pwned=2">`) {
			t.Fatalf("bold text = %q", got)
		}
		if got := text(t, ctx, "#plugin-blocks .block-text code"); got != "<b>code</b>" {
			t.Fatalf("code = %q", got)
		}
		if got := text(t, ctx, "#plugin-blocks .block-text:has(strong)"); !strings.Contains(got, "[click](javascript:window.__pwned=3)") ||
			!strings.Contains(got, `[quote](/a" onmouseover="window.__pwned=5)`) {
			t.Fatalf("unsafe links are not kept as text: %q", got)
		}
		if n := get(t, ctx, "script ran after markdown?", chromedp.Evaluate[int](`window.__pwned || 0`)); n != 0 {
			t.Fatalf("plugin Markdown ran script (%d)", n)
		}
	})
}
