package plugins

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/sandbox"
)

// page:metadata contributions are untrusted plugin output that ends up in
// public HTML, so they are validated into a closed shape (MetaTag) and
// rendered only by RenderMetaHTML, which escapes every value:
//
//   - meta: {name|property, content}: exactly one of name/property, matching
//     ^[A-Za-z][A-Za-z0-9:._-]{0,99}$ (no http-equiv, no charset); content a
//     plain string of at most 2,000 characters, control characters removed.
//   - link: {rel, href, hreflang?, type?, title?}: rel from MetaRelAllowlist
//     only (nothing that makes a browser fetch or run anything: no
//     stylesheet, preload, prefetch, preconnect, dns-prefetch, icon, manifest,
//     modulepreload); href an absolute http(s) URL without credentials, at
//     most 2,048 characters; one canonical link per page (the first plugin in
//     dispatch order wins).
//   - jsonLd: JSON objects only, at most 16 KiB each, rendered in a
//     <script type="application/ld+json"> with <, >, & (and U+2028/9)
//     escaped as \u003c… so no value can close the script element.
//
// Per plugin at most 32 meta, 16 link and 4 jsonLd items are kept. An item
// that breaks a rule is dropped (and reported in the server log); a plugin
// that throws or hits a limit contributes nothing.

// MetaRelAllowlist is the link rel values plugins may contribute.
var MetaRelAllowlist = []string{"canonical", "alternate", "author", "license", "me", "prev", "next"}

// Caps of one plugin's contribution.
const (
	maxMetaItems    = 32
	maxLinkItems    = 16
	maxJSONLDItems  = 4
	maxMetaContent  = 2000
	maxHrefLength   = 2048
	maxLinkTitle    = 200
	maxJSONLDBytes  = 16 << 10
	metaCacheTTL    = 30 * time.Second
	metaCacheMaxLen = 1000
)

// Kinds of MetaTag.
const (
	MetaKindMeta   = "meta"
	MetaKindLink   = "link"
	MetaKindJSONLD = "jsonLd"
)

// MetaTag is one validated contribution to a public page's head.
type MetaTag struct {
	Kind     string          `json:"kind"` // meta, link or jsonLd
	Name     string          `json:"name,omitempty"`
	Property string          `json:"property,omitempty"`
	Content  string          `json:"content,omitempty"`
	Rel      string          `json:"rel,omitempty"`
	Href     string          `json:"href,omitempty"`
	Hreflang string          `json:"hreflang,omitempty"`
	Type     string          `json:"type,omitempty"`
	Title    string          `json:"title,omitempty"`
	JSONLD   json.RawMessage `json:"jsonLd,omitempty"`
	// Plugin contributed the tag; kept out of public responses.
	Plugin string `json:"-"`
}

var (
	metaNameRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9:._-]{0,99}$`)
	hreflangRe = regexp.MustCompile(`^(?:[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|x-default)$`)
	mimeTypeRe = regexp.MustCompile(`^[a-z0-9][a-z0-9.+-]{0,62}/[a-z0-9][a-z0-9.+-]{0,62}$`)
)

// SanitizeMetadata validates one plugin's page:metadata return value into
// tags, listing each dropped item's problem. null (or nothing) is no
// contribution.
func SanitizeMetadata(raw json.RawMessage) ([]MetaTag, []string) {
	if isNothing(raw) {
		return nil, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || top == nil {
		return nil, []string{"the contribution must be an object {meta, link, jsonLd}, got " + jsonKind(raw)}
	}
	var tags []MetaTag
	var problems []string
	for key, val := range top {
		switch key {
		case "meta", "link", "jsonLd":
		default:
			problems = append(problems, fmt.Sprintf("%s: unknown key (use meta, link or jsonLd)", key))
			continue
		}
		if isNothing(val) {
			continue
		}
		var items []json.RawMessage
		if err := json.Unmarshal(val, &items); err != nil {
			if key != "jsonLd" {
				problems = append(problems, key+": must be an array")
				continue
			}
			items = []json.RawMessage{val} // a single JSON-LD object is accepted as a list of one
		}
		limit := map[string]int{"meta": maxMetaItems, "link": maxLinkItems, "jsonLd": maxJSONLDItems}[key]
		if len(items) > limit {
			problems = append(problems, fmt.Sprintf("%s: %d items, only the first %d are kept", key, len(items), limit))
			items = items[:limit]
		}
		for i, item := range items {
			var tag MetaTag
			var err error
			switch key {
			case "meta":
				tag, err = sanitizeMeta(item)
			case "link":
				tag, err = sanitizeLink(item)
			default:
				tag, err = sanitizeJSONLD(item)
			}
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s[%d]: %v", key, i, err))
				continue
			}
			tags = append(tags, tag)
		}
	}
	// Map iteration is random; a stable order keeps pages (and ETags) stable.
	order := map[string]int{MetaKindMeta: 0, MetaKindLink: 1, MetaKindJSONLD: 2}
	slices.SortStableFunc(tags, func(a, b MetaTag) int { return cmp.Compare(order[a.Kind], order[b.Kind]) })
	return tags, problems
}

func fields(item json.RawMessage) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(item, &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("must be an object, got %s", jsonKind(item))
	}
	return obj, nil
}

// plainString reads a string attribute: a JSON string, with control
// characters dropped (line breaks become spaces), at most maxLen characters.
func plainString(obj map[string]json.RawMessage, key string, maxLen int) (string, bool, error) {
	raw, ok := obj[key]
	if !ok || isNothing(raw) {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", true, fmt.Errorf("%s must be a string", key)
	}
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case unicode.IsControl(r), r == utf8.RuneError:
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxLen {
		return "", true, fmt.Errorf("%s is longer than %d characters", key, maxLen)
	}
	return s, true, nil
}

func unknownKeys(obj map[string]json.RawMessage, allowed ...string) error {
	for k := range obj {
		found := false
		for _, a := range allowed {
			found = found || k == a
		}
		if !found {
			return fmt.Errorf("unknown attribute %q", k)
		}
	}
	return nil
}

func sanitizeMeta(item json.RawMessage) (MetaTag, error) {
	obj, err := fields(item)
	if err != nil {
		return MetaTag{}, err
	}
	if err := unknownKeys(obj, "name", "property", "content"); err != nil {
		return MetaTag{}, err
	}
	name, hasName, err := plainString(obj, "name", 100)
	if err != nil {
		return MetaTag{}, err
	}
	prop, hasProp, err := plainString(obj, "property", 100)
	if err != nil {
		return MetaTag{}, err
	}
	if hasName == hasProp {
		return MetaTag{}, fmt.Errorf("needs exactly one of name or property")
	}
	key := name + prop
	if !metaNameRe.MatchString(key) {
		return MetaTag{}, fmt.Errorf("name/property %q must match %s", key, metaNameRe)
	}
	content, ok, err := plainString(obj, "content", maxMetaContent)
	if err != nil {
		return MetaTag{}, err
	}
	if !ok {
		return MetaTag{}, fmt.Errorf("content is required")
	}
	return MetaTag{Kind: MetaKindMeta, Name: name, Property: prop, Content: content}, nil
}

func sanitizeLink(item json.RawMessage) (MetaTag, error) {
	obj, err := fields(item)
	if err != nil {
		return MetaTag{}, err
	}
	if err := unknownKeys(obj, "rel", "href", "hreflang", "type", "title"); err != nil {
		return MetaTag{}, err
	}
	rel, _, err := plainString(obj, "rel", 50)
	if err != nil {
		return MetaTag{}, err
	}
	rel = strings.ToLower(rel)
	allowed := false
	for _, a := range MetaRelAllowlist {
		allowed = allowed || rel == a
	}
	if !allowed {
		return MetaTag{}, fmt.Errorf("rel %q is not allowed (allowed: %s)", rel, strings.Join(MetaRelAllowlist, ", "))
	}
	rawHref, _, err := plainString(obj, "href", maxHrefLength)
	if err != nil {
		return MetaTag{}, err
	}
	href, err := safeURL(rawHref)
	if err != nil {
		return MetaTag{}, err
	}
	tag := MetaTag{Kind: MetaKindLink, Rel: rel, Href: href}
	if tag.Hreflang, _, err = plainString(obj, "hreflang", 35); err != nil {
		return MetaTag{}, err
	}
	if tag.Hreflang != "" && !hreflangRe.MatchString(tag.Hreflang) {
		return MetaTag{}, fmt.Errorf("hreflang %q is not a language tag", tag.Hreflang)
	}
	if tag.Type, _, err = plainString(obj, "type", 127); err != nil {
		return MetaTag{}, err
	}
	if tag.Type != "" && !mimeTypeRe.MatchString(tag.Type) {
		return MetaTag{}, fmt.Errorf("type %q is not a media type", tag.Type)
	}
	if tag.Title, _, err = plainString(obj, "title", maxLinkTitle); err != nil {
		return MetaTag{}, err
	}
	return tag, nil
}

// safeURL accepts absolute http(s) URLs with a host and no credentials, and
// returns them normalised.
func safeURL(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("href is required")
	}
	if strings.ContainsAny(s, " \\") {
		return "", fmt.Errorf("href %q must not contain spaces or backslashes", s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("href %q is not a URL", s)
	}
	if scheme := strings.ToLower(u.Scheme); scheme != "http" && scheme != "https" {
		return "", fmt.Errorf("href %q must be an absolute http or https URL", s)
	}
	if u.Host == "" || u.Opaque != "" {
		return "", fmt.Errorf("href %q has no host", s)
	}
	if u.User != nil {
		return "", fmt.Errorf("href must not carry credentials")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	out := u.String()
	if len(out) > maxHrefLength {
		return "", fmt.Errorf("href is longer than %d characters", maxHrefLength)
	}
	return out, nil
}

func sanitizeJSONLD(item json.RawMessage) (MetaTag, error) {
	var obj map[string]any
	if err := json.Unmarshal(item, &obj); err != nil || obj == nil {
		return MetaTag{}, fmt.Errorf("must be a JSON object, got %s", jsonKind(item))
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, item); err != nil {
		return MetaTag{}, fmt.Errorf("not valid JSON: %w", err)
	}
	if buf.Len() > maxJSONLDBytes {
		return MetaTag{}, fmt.Errorf("is %d bytes, the limit is %d", buf.Len(), maxJSONLDBytes)
	}
	return MetaTag{Kind: MetaKindJSONLD, JSONLD: json.RawMessage(buf.Bytes())}, nil
}

// RenderMetaHTML renders tags for a page's <head>, escaping every value: the
// only way tags should reach HTML.
func RenderMetaHTML(tags []MetaTag) template.HTML {
	var b strings.Builder
	attr := func(name, value string) {
		if value != "" {
			b.WriteString(" " + name + `="` + html.EscapeString(value) + `"`)
		}
	}
	for _, t := range tags {
		switch t.Kind {
		case MetaKindMeta:
			b.WriteString("<meta")
			attr("name", t.Name)
			attr("property", t.Property)
			b.WriteString(` content="` + html.EscapeString(t.Content) + `">` + "\n")
		case MetaKindLink:
			b.WriteString("<link")
			attr("rel", t.Rel)
			attr("href", t.Href)
			attr("hreflang", t.Hreflang)
			attr("type", t.Type)
			attr("title", t.Title)
			b.WriteString(">\n")
		case MetaKindJSONLD:
			if !json.Valid(t.JSONLD) {
				continue
			}
			var esc bytes.Buffer
			json.HTMLEscape(&esc, t.JSONLD)
			b.WriteString(`<script type="application/ld+json">` + esc.String() + "</script>\n")
		}
	}
	return template.HTML(b.String()) //nolint:gosec // every value above is escaped
}

// MetadataEvent is the event of page:metadata: the published entry.
type MetadataEvent struct {
	Collection  string         `json:"collection"`
	ID          string         `json:"id"`
	Slug        string         `json:"slug"`
	Data        map[string]any `json:"data"`
	PublishedAt string         `json:"publishedAt"`
}

// Metadata collects the page:metadata contributions of the enabled plugins
// for a published entry, validated, in dispatch order (priority, then
// install order). It never fails: a failing plugin contributes nothing and is
// logged. Results are cached briefly per entry version and set of running
// plugin versions.
func (d *Dispatcher) Metadata(ctx context.Context, collection string, e *cms.PublicEntry) []MetaTag {
	subs, err := d.m.subscribers(ctx, manifest.HookPageMetadata)
	if err != nil {
		d.log.WarnContext(ctx, "page:metadata: could not list plugins", "err", err)
		return []MetaTag{}
	}
	if len(subs) == 0 {
		return []MetaTag{}
	}
	var key strings.Builder
	key.WriteString(collection + "\x00" + e.ID + "\x00" + strconv.FormatInt(e.Version, 10) + "\x00" + e.Slug + "\x00" + e.PublishedAt.UTC().Format(time.RFC3339Nano))
	for _, s := range subs {
		key.WriteString("\x00" + s.ap.ID + "@" + s.ap.SHA256)
	}
	if tags, ok := d.meta.get(key.String()); ok {
		return slices.Clone(tags)
	}
	data := e.Data
	if data == nil {
		data = map[string]any{}
	}
	ev := MetadataEvent{Collection: collection, ID: e.ID, Slug: e.Slug, Data: data, PublishedAt: e.PublishedAt.UTC().Format(time.RFC3339)}
	// Plugins run concurrently (each bounded by its own timeout); their
	// contributions are merged in dispatch order.
	results := make([][]MetaTag, len(subs))
	var wg sync.WaitGroup
	for i, s := range subs {
		wg.Go(func() {
			res, err := d.m.Invoke(ctx, s.ap, sandbox.KindHook, string(manifest.HookPageMetadata), ev)
			if err != nil {
				d.log.WarnContext(ctx, "page:metadata failed; the plugin contributes nothing", "plugin", s.ap.ID, "err", failureMessage(err))
				return
			}
			tags, problems := SanitizeMetadata(res.Value)
			if len(problems) > 0 {
				d.log.WarnContext(ctx, "page:metadata: contributions dropped", "plugin", s.ap.ID, "problems", problems)
			}
			for j := range tags {
				tags[j].Plugin = s.ap.ID
			}
			results[i] = tags
		})
	}
	wg.Wait()
	out := []MetaTag{}
	canonical := false
	for _, tags := range results {
		for _, t := range tags {
			if t.Kind == MetaKindLink && t.Rel == "canonical" {
				if canonical {
					continue // one canonical per page: the first plugin's
				}
				canonical = true
			}
			out = append(out, t)
		}
	}
	if ctx.Err() == nil {
		d.meta.put(key.String(), slices.Clone(out))
	}
	return out
}

// metaCache keeps recent Metadata results; a page served often runs its
// plugins at most once per TTL. Setting changes show after at most the TTL.
type metaCache struct {
	mu sync.Mutex
	m  map[string]metaCached
}

type metaCached struct {
	tags    []MetaTag
	expires time.Time
}

func newMetaCache() *metaCache { return &metaCache{m: map[string]metaCached{}} }

func (c *metaCache) get(key string) ([]MetaTag, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	if !ok || time.Now().After(v.expires) {
		return nil, false
	}
	return v.tags, true
}

func (c *metaCache) put(key string, tags []MetaTag) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= metaCacheMaxLen {
		now := time.Now()
		for k, v := range c.m {
			if now.After(v.expires) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= metaCacheMaxLen {
			clear(c.m)
		}
	}
	c.m[key] = metaCached{tags: tags, expires: time.Now().Add(metaCacheTTL)}
}
