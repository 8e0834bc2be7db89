package plugins

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
)

func TestSanitizeMetadata(t *testing.T) {
	cases := []struct {
		name     string
		in       string
		want     []MetaTag
		problems []string // substrings, one per expected problem
	}{
		{"nothing", `null`, nil, nil},
		{"not an object", `[1]`, nil, []string{"must be an object"}},
		{"meta by name and property",
			`{"meta": [{"name": "description", "content": "  Hello\nworld  "}, {"property": "og:title", "content": "T"}]}`,
			[]MetaTag{{Kind: "meta", Name: "description", Content: "Hello world"}, {Kind: "meta", Property: "og:title", Content: "T"}}, nil},
		{"meta markup stays text",
			`{"meta": [{"name": "description", "content": "\"><script>alert(1)</script>"}]}`,
			[]MetaTag{{Kind: "meta", Name: "description", Content: `"><script>alert(1)</script>`}}, nil},
		{"meta needs exactly one key",
			`{"meta": [{"name": "a", "property": "b", "content": "x"}, {"content": "x"}]}`,
			nil, []string{"meta[0]: needs exactly one", "meta[1]: needs exactly one"}},
		{"meta rejects odd names and attributes",
			`{"meta": [{"name": "x\" onload=\"y", "content": "x"}, {"http-equiv": "refresh", "content": "0;url=https://evil.example"}, {"name": "a"}, {"name": "a", "content": 5}]}`,
			nil, []string{"meta[0]: name/property", `meta[1]: unknown attribute "http-equiv"`, "meta[2]: content is required", "meta[3]: content must be a string"}},
		{"meta content capped",
			`{"meta": [{"name": "a", "content": "` + strings.Repeat("x", 2001) + `"}]}`,
			nil, []string{"longer than 2000"}},
		{"control characters dropped",
			`{"meta": [{"name": "a", "content": "a\u0000b\u001bc"}]}`,
			[]MetaTag{{Kind: "meta", Name: "a", Content: "abc"}}, nil},
		{"link allowlist and http(s) only",
			`{"link": [{"rel": "Canonical", "href": "HTTPS://example.com/a?b=1"},
			           {"rel": "stylesheet", "href": "https://evil.example/x.css"},
			           {"rel": "preload", "href": "https://evil.example/x.js"},
			           {"rel": "alternate", "href": "javascript:alert(1)"},
			           {"rel": "alternate", "href": "//evil.example/x"},
			           {"rel": "alternate", "href": "/relative"},
			           {"rel": "author", "href": "https://user:pw@example.com/"},
			           {"rel": "alternate", "href": "https://example.com/de", "hreflang": "de-AT", "type": "text/html", "title": "Deutsch"}]}`,
			[]MetaTag{{Kind: "link", Rel: "canonical", Href: "https://example.com/a?b=1"},
				{Kind: "link", Rel: "alternate", Href: "https://example.com/de", Hreflang: "de-AT", Type: "text/html", Title: "Deutsch"}},
			[]string{`link[1]: rel "stylesheet" is not allowed`, `link[2]: rel "preload"`, "link[3]: href", "link[4]: href", "link[5]: href", "link[6]: href must not carry credentials"}},
		{"link attribute checks",
			`{"link": [{"rel": "alternate", "href": "https://e.example/", "hreflang": "<x>"}, {"rel": "alternate", "href": "https://e.example/", "type": "text/html\" x=\""}, {"rel": "me", "href": "https://e.example/", "onclick": "x"}]}`,
			nil, []string{"hreflang", "type", "unknown attribute"}},
		{"json-ld objects only",
			`{"jsonLd": [{"@type": "Article", "headline": "</script><script>alert(1)</script>"}, [1], "x"]}`,
			[]MetaTag{{Kind: "jsonLd", JSONLD: json.RawMessage(`{"@type":"Article","headline":"</script><script>alert(1)</script>"}`)}},
			[]string{"jsonLd[1]: must be a JSON object, got an array", "jsonLd[2]: must be a JSON object, got a string"}},
		{"a single json-ld object", `{"jsonLd": {"@type": "Thing"}}`,
			[]MetaTag{{Kind: "jsonLd", JSONLD: json.RawMessage(`{"@type":"Thing"}`)}}, nil},
		{"json-ld size cap", `{"jsonLd": [{"x": "` + strings.Repeat("y", 17<<10) + `"}]}`, nil, []string{"the limit is 16384"}},
		{"unknown keys and shapes", `{"script": [], "meta": {}}`, nil, []string{"script: unknown key", "meta: must be an array"}},
		{"item caps", `{"jsonLd": [{}, {}, {}, {}, {}]}`,
			[]MetaTag{{Kind: "jsonLd", JSONLD: json.RawMessage(`{}`)}, {Kind: "jsonLd", JSONLD: json.RawMessage(`{}`)},
				{Kind: "jsonLd", JSONLD: json.RawMessage(`{}`)}, {Kind: "jsonLd", JSONLD: json.RawMessage(`{}`)}},
			[]string{"only the first 4"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, problems := SanitizeMetadata(json.RawMessage(tc.in))
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(tc.want)
			if string(gj) != string(wj) {
				t.Errorf("tags\n got %s\nwant %s", gj, wj)
			}
			all := strings.Join(problems, "\n")
			if len(problems) != len(tc.problems) {
				t.Errorf("problems:\n%s\nwant %d of them", all, len(tc.problems))
			}
			for _, p := range tc.problems {
				if !strings.Contains(all, p) {
					t.Errorf("no problem mentions %q in:\n%s", p, all)
				}
			}
		})
	}
}

func TestRenderMetaHTMLEscapesEverything(t *testing.T) {
	const attack = `</script><script>alert(1)</script>`
	tags, problems := SanitizeMetadata(json.RawMessage(`{
		"meta": [{"name": "description", "content": "\"><script>alert(1)</script>&"}],
		"link": [{"rel": "canonical", "href": "https://example.com/a?x=\"><script>&y=1", "title": "<b>"}],
		"jsonLd": [{"headline": "` + attack + `", "note": "a & b \u2028"}]}`))
	if len(problems) > 0 || len(tags) != 3 {
		t.Fatalf("tags %v, problems %v", tags, problems)
	}
	out := string(RenderMetaHTML(tags))
	want := `<meta name="description" content="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;">
<link rel="canonical" href="https://example.com/a?x=&#34;&gt;&lt;script&gt;&amp;y=1" title="&lt;b&gt;">
<script type="application/ld+json">{"headline":"\u003c/script\u003e\u003cscript\u003ealert(1)\u003c/script\u003e","note":"a \u0026 b \u2028"}</script>
`
	if out != want {
		t.Fatalf("rendered\n%s\nwant\n%s", out, want)
	}
	if strings.Count(out, "<script") != 1 || strings.Contains(out, "alert(1)</script>") {
		t.Fatalf("markup injected:\n%s", out)
	}
	// The escaped JSON-LD is still the same JSON.
	start := strings.Index(out, `json">`) + len(`json">`)
	var v map[string]any
	if err := json.Unmarshal([]byte(out[start:strings.LastIndex(out, "</script>")]), &v); err != nil || v["headline"] != attack {
		t.Fatalf("JSON-LD no longer decodes to the original: %v, %v", v, err)
	}
}

func TestMetadataFromPlugins(t *testing.T) {
	r := newRig(t, QueueConfig{})
	ctx := context.Background()
	r.example("seo-meta", map[string]any{"siteName": "Example", "baseUrl": "https://example.com"})
	r.inline(hookPlugin("evil-meta", `["page:metadata"]`, `[{"name": "page:metadata", "priority": 200}]`),
		`export default { hooks: { "page:metadata": () => ({
			meta: [{ name: "keywords", content: "</title><script>alert(1)</script>" }],
			link: [{ rel: "canonical", href: "https://evil.example/" }, { rel: "stylesheet", href: "https://evil.example/x.css" }],
			jsonLd: ["not an object"],
		}) } };`)
	r.inline(hookPlugin("broken-meta", `["page:metadata"]`, `["page:metadata"]`),
		`export default { hooks: { "page:metadata": () => { throw new Error("nope"); } } };`)

	entry := &cms.PublicEntry{ID: "e1", Version: 2, Slug: "hello-world", PublishedAt: time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC),
		Data: map[string]any{"title": "Hello world", "body": "Some *text* here."}}
	tags := r.d.Metadata(ctx, "posts", entry)

	var canonical []string
	var keywords, ogTitle, article bool
	for _, tag := range tags {
		switch {
		case tag.Kind == MetaKindLink && tag.Rel == "canonical":
			canonical = append(canonical, tag.Href+" by "+tag.Plugin)
		case tag.Kind == MetaKindLink:
			t.Errorf("a disallowed link got through: %+v", tag)
		case tag.Name == "keywords":
			keywords = tag.Plugin == "evil-meta"
		case tag.Property == "og:title":
			ogTitle = tag.Content == "Hello world"
		case tag.Kind == MetaKindJSONLD:
			article = strings.Contains(string(tag.JSONLD), `"Article"`)
		}
		if tag.Plugin == "broken-meta" {
			t.Errorf("a failing plugin contributed %+v", tag)
		}
	}
	if len(canonical) != 1 || canonical[0] != "https://example.com/posts/hello-world by seo-meta" {
		t.Errorf("canonical links %v: want seo-meta's only (it runs first)", canonical)
	}
	if !keywords || !ogTitle || !article {
		t.Errorf("missing contributions (keywords %v, og:title %v, article %v): %+v", keywords, ogTitle, article, tags)
	}
	if html := string(RenderMetaHTML(tags)); strings.Contains(html, "<script>alert") {
		t.Errorf("rendered markup injection:\n%s", html)
	}

	// A second request for the same entry version is served from the cache.
	r.flushLogs()
	before, _ := r.logs.Stats(ctx, "seo-meta")
	again := r.d.Metadata(ctx, "posts", entry)
	r.flushLogs()
	after, _ := r.logs.Stats(ctx, "seo-meta")
	if len(again) != len(tags) || after.Count != before.Count {
		t.Errorf("cached metadata: %d tags (want %d), invocations %d → %d", len(again), len(tags), before.Count, after.Count)
	}
}
