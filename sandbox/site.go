package sandbox

import (
	"reflect"
	"strings"

	"github.com/dop251/goja"
	whatwg "github.com/nlnwa/whatwg-url/url"
)

// ctx.site and ctx.url.

// siteValue is ctx.site: the frozen {name, url, locale, timezone}.
func (r *runner) siteValue() (goja.Value, error) {
	o := r.rt.NewObject()
	s := r.t.Site
	_ = o.Set("name", s.Name)
	_ = o.Set("url", strings.TrimRight(s.URL, "/"))
	_ = o.Set("locale", s.Locale)
	_ = o.Set("timezone", s.Timezone)
	if _, err := r.n.freeze(goja.Undefined(), o); err != nil {
		return nil, err
	}
	return o, nil
}

// urlFunc is ctx.url(path): the absolute URL of a path on the site. Only a
// path is accepted — it starts with one "/" and has no backslash or control
// character (which URL parsers turn into "/" or drop, so "/\evil.test" and
// "/\t/evil.test" would leave the site) — and the result must still be on
// the site's origin.
func (r *runner) urlFunc() *goja.Object {
	return r.function("url", 1, func(call goja.FunctionCall) goja.Value {
		v := argument(call.Arguments, 0)
		if _, isObj := v.(*goja.Object); isObj || v.ExportType() == nil || v.ExportType().Kind() != reflect.String {
			panic(r.rt.NewTypeError("ctx.url: the path must be a string"))
		}
		path := v.String()
		switch {
		case !strings.HasPrefix(path, "/"):
			panic(r.rt.NewTypeError("ctx.url: %s is not a path on the site: it must start with \"/\"", quoteJS(path)))
		case strings.HasPrefix(path, "//"):
			panic(r.rt.NewTypeError("ctx.url: %s starts with \"//\", which would name another host", quoteJS(path)))
		case strings.ContainsAny(path, "\\"):
			panic(r.rt.NewTypeError("ctx.url: %s contains a backslash", quoteJS(path)))
		case strings.ContainsFunc(path, func(c rune) bool { return c < 0x20 || c == 0x7f }):
			panic(r.rt.NewTypeError("ctx.url: %s contains a control character", quoteJS(path)))
		case len(path) > maxURLLength:
			panic(r.rt.NewTypeError("ctx.url: the path is too long"))
		}
		base, err := whatwg.Parse(strings.TrimRight(r.t.Site.URL, "/") + "/")
		if err != nil {
			panic(r.rt.NewTypeError("ctx.url: this site has no public URL configured"))
		}
		u, err := base.Parse(strings.TrimRight(base.Pathname(), "/") + path)
		if err != nil || urlOrigin(u) != urlOrigin(base) {
			panic(r.rt.NewTypeError("ctx.url: %s does not stay on the site", quoteJS(path)))
		}
		return r.rt.ToValue(u.Href(false))
	})
}
