package examples

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/pilcrow-cms/pilcrow/plugins"
)

// pageMetadata is the page:metadata contribution as docs/plugins.md defines it.
type pageMetadata struct {
	Meta []struct {
		Name     string  `json:"name"`
		Property string  `json:"property"`
		Content  *string `json:"content"`
	} `json:"meta"`
	Link []struct {
		Rel  string `json:"rel"`
		Href string `json:"href"`
	} `json:"link"`
	JSONLD []map[string]any `json:"jsonLd"`
}

// tag returns the content of the meta tag with the given name or property.
func (p pageMetadata) tag(key string) (string, bool) {
	for _, m := range p.Meta {
		if (m.Name == key || m.Property == key) && m.Content != nil {
			return *m.Content, true
		}
	}
	return "", false
}

func TestSEOMeta(t *testing.T) {
	ex := load(t, "seo-meta")
	site := map[string]any{"siteName": "The Daily Pilcrow", "baseUrl": "https://news.example.com/"}
	const hostile = "Nice post</script><script>alert(1)</script>"
	tests := []struct {
		name      string
		fixture   string
		settings  map[string]any
		tags      map[string]string // meta name/property → content; "" = must be absent
		canonical string            // "" = no link at all
		article   map[string]any    // top-level JSON-LD values
	}{
		{
			name: "article from markdown", fixture: "page.metadata.json", settings: site,
			tags: map[string]string{
				// The heading and the image are left out, the link keeps its
				// text, and the cut falls on a word boundary within 160.
				"description":  "A plugin that keeps state in globals would leak it to the next request, so Pilcrow starts every hook in a new, empty JavaScript runtime. See the sandbox docs\u2026",
				"og:title":     "Why every hook gets a fresh isolate",
				"og:url":       "https://news.example.com/posts/fresh-isolates",
				"og:site_name": "The Daily Pilcrow",
				"og:image":     "https://news.example.com/media/isolates.png",
				"twitter:card": "summary_large_image",
			},
			canonical: "https://news.example.com/posts/fresh-isolates",
			article: map[string]any{
				"@type": "Article", "headline": "Why every hook gets a fresh isolate",
				"datePublished": "2026-03-14T09:30:00Z", "url": "https://news.example.com/posts/fresh-isolates",
				"author":    map[string]any{"@type": "Person", "name": "Ada Lovelace"},
				"publisher": map[string]any{"@type": "Organization", "name": "The Daily Pilcrow"},
				"image":     []any{"https://news.example.com/media/isolates.png"},
			},
		},
		{
			// Markup in values comes back as plain data, neither escaped
			// (the server escapes on output) nor dropped; a javascript: image
			// URL is not an image.
			name: "markup is returned as data", fixture: "page.metadata.hostile.json", settings: site,
			tags: map[string]string{
				"description": hostile, "og:description": hostile,
				"og:title": `"><img src=x onerror=alert(1)>`, "og:image": "", "twitter:card": "summary",
			},
			canonical: "https://news.example.com/posts/hello-world",
			article:   map[string]any{"description": hostile, "headline": `"><img src=x onerror=alert(1)>`},
		},
		{
			// summary beats body, seoTitle beats title, a media item's url is
			// the image, and the slug is encoded into the path.
			name: "summary, media item and noindex", fixture: "page.metadata.media.json", settings: site,
			tags: map[string]string{
				"description": "When we open, and when we close.", "og:title": "Caf\u00e9 opening hours",
				"og:image": "https://cdn.example.com/cafe.jpg", "robots": "noindex",
				"og:url": "https://news.example.com/guides/caf%C3%A9%20%26%20bar",
			},
			canonical: "https://news.example.com/guides/caf%C3%A9%20%26%20bar",
			article:   map[string]any{"headline": "Caf\u00e9 opening hours", "image": []any{"https://cdn.example.com/cafe.jpg"}, "author": nil},
		},
		{
			name: "custom path template", fixture: "page.metadata.hostile.json",
			settings:  map[string]any{"siteName": "Daily", "baseUrl": "https://example.org", "pathTemplate": "/blog/{slug}/"},
			tags:      map[string]string{"og:url": "https://example.org/blog/hello-world/"},
			canonical: "https://example.org/blog/hello-world/",
		},
		{
			name: "no site URL: no canonical link", fixture: "page.metadata.json", settings: map[string]any{"siteName": "Daily"},
			tags:    map[string]string{"og:url": "", "og:image": "", "og:title": "Why every hook gets a fresh isolate"},
			article: map[string]any{"url": nil, "mainEntityOfPage": nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ex.run(t, plugins.LocalRun{Name: "page:metadata", Event: ex.fixture(t, tt.fixture), Settings: tt.settings})
			if err != nil {
				t.Fatalf("hook failed: %v", err)
			}
			var got pageMetadata
			dec := json.NewDecoder(bytes.NewReader(res.Value))
			dec.DisallowUnknownFields() // only meta, link and jsonLd
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("result %s: %v", res.Value, err)
			}
			for _, m := range got.Meta {
				if (m.Name == "") == (m.Property == "") || m.Content == nil {
					t.Errorf("meta %+v: want exactly one of name and property, and content", m)
				}
			}
			for key, want := range tt.tags {
				content, ok := got.tag(key)
				if want == "" && ok {
					t.Errorf("meta %s = %q, want none", key, content)
				} else if want != "" && content != want {
					t.Errorf("meta %s = %q, want %q", key, content, want)
				}
			}
			switch {
			case tt.canonical == "" && (len(got.Link) != 0 || !hasLog(res, "warn", "Public site URL")):
				t.Errorf("links %+v, want none and a warning about the setting", got.Link)
			case tt.canonical != "" && (len(got.Link) != 1 || got.Link[0].Rel != "canonical" || got.Link[0].Href != tt.canonical):
				t.Errorf("links %+v, want one canonical %s", got.Link, tt.canonical)
			}
			if len(got.JSONLD) != 1 || got.JSONLD[0]["@context"] != "https://schema.org" || got.JSONLD[0]["@type"] != "Article" {
				t.Fatalf("jsonLd %v, want one schema.org Article", got.JSONLD)
			}
			for k, want := range tt.article {
				if gotV, _ := json.Marshal(got.JSONLD[0][k]); string(gotV) != mustJSON(t, want) {
					t.Errorf("jsonLd %s = %s, want %s", k, gotV, mustJSON(t, want))
				}
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
