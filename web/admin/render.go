package admin

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/web"
)

//go:embed templates/*.html
var adminTemplateFS embed.FS

//go:embed static
var adminStaticFS embed.FS

// adminPage is what every admin template receives.
type adminPage struct {
	Title string
	// Nav marks the current section in the menu.
	Nav    string
	User   *cms.User
	CSRF   string
	Notice string
	// Error is a page-level message shown in an alert.
	Error string
	// Plugins says whether the plugin pages exist (the manager is wired).
	Plugins bool
	// PluginPages are the active plugins' admin pages, in the navigation.
	PluginPages []pluginNavItem
	Data        any
}

var adminFuncs = template.FuncMap{
	"can": func(u *cms.User, p string) bool { return u.Can(cms.Permission(p)) },
	"when": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return ""
			}
			return v.UTC().Format("2006-01-02 15:04 UTC")
		case *time.Time:
			if v == nil {
				return ""
			}
			return v.UTC().Format("2006-01-02 15:04 UTC")
		}
		return ""
	},
	"json": func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	},
	"join": strings.Join,
	// plural writes "1 run" but "2 runs": counts on the dashboard and the
	// logs page are often exactly one.
	"plural": func(n any, one, many string) string {
		if fmt.Sprint(n) == "1" {
			return "1 " + one
		}
		return fmt.Sprint(n) + " " + many
	},
	"mediaURL": web.MediaFileURL,
	"add":      func(a, b int) int { return a + b },
	"wait":     waitText,
	// problemText spells a field error not tied to a control as a sentence.
	"problemText": func(fe cms.FieldError) string {
		name := map[string]string{"/at": "Publish at", "/data": "The entry"}[fe.Path]
		if name == "" {
			name = cms.PathName(fe.Path)
		}
		return sentence(name + " " + fe.Message)
	},
	"size": humanSize,
	// query makes a link from a query string built with url.Values.Encode,
	// which is already escaped; html/template would escape it a second time.
	"query": func(encoded string) template.URL { return template.URL("?" + encoded) },
	// dict builds the argument of a partial template from key/value pairs.
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, fmt.Errorf("dict needs key/value pairs, got %d arguments", len(kv))
		}
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, fmt.Errorf("dict key %v is not a string", kv[i])
			}
			m[k] = kv[i+1]
		}
		return m, nil
	},
	"deref": func(p *int) int {
		if p == nil {
			return 0
		}
		return *p
	},
}

var (
	adminOnce      sync.Once
	adminTemplates map[string]*template.Template
	adminParseErr  error
)

// loadAdminTemplates parses layout.html together with each page once. A parse
// error is a build defect, caught by every admin test.
func loadAdminTemplates() (map[string]*template.Template, error) {
	adminOnce.Do(func() {
		base, err := template.New("layout.html").Funcs(adminFuncs).ParseFS(adminTemplateFS, "templates/layout.html", "templates/partials.html")
		if err != nil {
			adminParseErr = fmt.Errorf("admin templates: %w", err)
			return
		}
		pages, err := fs.Glob(adminTemplateFS, "templates/*.html")
		if err != nil {
			adminParseErr = err
			return
		}
		adminTemplates = map[string]*template.Template{}
		for _, p := range pages {
			name := strings.TrimSuffix(strings.TrimPrefix(p, "templates/"), ".html")
			if name == "layout" || name == "partials" {
				continue
			}
			t, err := template.Must(base.Clone()).ParseFS(adminTemplateFS, p)
			if err != nil {
				adminParseErr = fmt.Errorf("admin template %s: %w", name, err)
				return
			}
			adminTemplates[name] = t
		}
	})
	return adminTemplates, adminParseErr
}

// adminRender fills in the user, CSRF token and notice and writes the page.
// The page renders into a buffer first so a template error never leaves half
// a page behind a 200.
func (s *UI) adminRender(w http.ResponseWriter, r *http.Request, status int, name string, p *adminPage) {
	tpls, err := loadAdminTemplates()
	t := tpls[name]
	if err == nil && t == nil {
		err = fmt.Errorf("admin template %q does not exist", name)
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "admin template", "err", err)
		http.Error(w, "admin page unavailable; the server log has details", http.StatusInternalServerError)
		return
	}
	p.User = web.CurrentUser(r)
	if sess := web.CurrentSession(r); sess != nil {
		p.CSRF = sess.CSRFToken
	}
	if p.Notice == "" {
		p.Notice = adminNotices[r.URL.Query().Get("notice")]
	}
	p.Plugins = s.adminPluginsEnabled()
	if p.Plugins && p.User.Can(cms.PermManagePlugins) {
		p.PluginPages = s.pluginNav(r.Context())
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		s.log.ErrorContext(r.Context(), "admin render", "page", name, "err", err)
		http.Error(w, "admin page failed to render; the server log has details", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// adminStatic serves the embedded CSS and JS.
func adminStatic() http.Handler {
	sub, err := fs.Sub(adminStaticFS, "static")
	if err != nil {
		panic(err) // the embed pattern above guarantees the folder
	}
	files := http.StripPrefix("/admin/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		files.ServeHTTP(w, r)
	})
}

// humanSize writes a byte count the way people read it.
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
