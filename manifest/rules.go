package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/robfig/cron/v3"
)

// rules checks what the JSON Schema cannot express. Each check reads the decoded
// Manifest and reports against the same JSON pointers the schema uses.
type rules struct {
	m     *Manifest
	doc   any
	sm    *sourceMap
	probs []Problem
}

func (r *rules) add(path, format string, args ...any) {
	r.probs = append(r.probs, r.sm.problem(path, false, fmt.Sprintf(format, args...)))
}

func (r *rules) check() {
	r.numbers("", r.doc)
	r.profile()
	r.network()
	r.hooks()
	r.storage()
	r.routes()
	r.settings()
	r.cron()
	r.limits()
	r.admin()
}

// admin checks the pages and widgets: unique paths and ids, no path the
// host's own plugin pages use, and the private route that answers them.
func (r *rules) admin() {
	if r.m.Admin == nil {
		return
	}
	paths := map[string]int{}
	for i, p := range r.m.Admin.Pages {
		path := pointer("/admin/pages", i) + "/path"
		if slices.Contains(ReservedAdminPaths, p.Path) {
			r.add(path, "page path %q is used by the admin's own plugin pages; choose another", p.Path)
		}
		if strings.Contains(p.Path, "//") || (len(p.Path) > 1 && strings.HasSuffix(p.Path, "/")) {
			r.add(path, "page path %q must not contain empty segments (\"//\" or a trailing \"/\")", p.Path)
		}
		if j, dup := paths[p.Path]; dup {
			r.add(path, "page %q is declared twice (also at /admin/pages/%d)", p.Path, j)
		}
		paths[p.Path] = i
	}
	ids := map[string]int{}
	for i, w := range r.m.Admin.Widgets {
		if j, dup := ids[w.ID]; dup {
			r.add(pointer("/admin/widgets", i)+"/id", "widget %q is declared twice (also at /admin/widgets/%d)", w.ID, j)
		}
		ids[w.ID] = i
	}
	if len(r.m.Admin.Pages)+len(r.m.Admin.Widgets) == 0 {
		return
	}
	rt, ok := r.m.Route(AdminRoute)
	switch {
	case !ok:
		r.add("/admin", "admin pages and widgets are answered by a private route named %q; declare it in \"routes\"", AdminRoute)
	case rt.Public:
		r.add("/admin", "the %q route answers admin pages and must be private; remove \"public\" from it", AdminRoute)
	case rt.LeastRole() != DefaultRoutePermission:
		r.add("/admin", "the %q route answers admin pages and must admit admins only; remove its \"permission\"", AdminRoute)
	}
}

// numbers requires every number except a number setting's default to be a plain
// 32-bit integer literal. The schema accepts 1e3 or 100.0 as integers, but Go would
// not decode them into int fields, and a limit that silently failed to decode would
// silently not apply.
func (r *rules) numbers(path string, v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			r.numbers(pointer(path, k), child)
		}
	case []any:
		for i, child := range v {
			r.numbers(pointer(path, i), child)
		}
	case json.Number:
		if settingDefaultRE.MatchString(path) {
			return
		}
		_, err := strconv.ParseInt(v.String(), 10, 32)
		switch {
		case err == nil:
		case errors.Is(err, strconv.ErrRange):
			r.add(path, "%s is too large", v)
		default:
			if _, err := v.Float64(); err == nil {
				r.add(path, "write %s as a plain whole number (no fraction or exponent)", v)
			}
		}
	}
}

var settingDefaultRE = regexp.MustCompile(`^/settings/[0-9]+/default$`)

func (r *rules) profile() {
	if h := r.m.Homepage; h != "" {
		u, err := url.Parse(h)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			r.add("/homepage", "homepage %q must be an absolute http:// or https:// URL", h)
		}
	}
}

func (r *rules) network() {
	hosts := r.m.AllowedHosts()
	fromSettings := r.m.HostsFromSettings()
	wants := r.m.Grants(NetworkRequest)
	switch {
	case wants && len(hosts) == 0 && len(fromSettings) == 0:
		path := "/network/allowedHosts"
		if _, ok := lookup(r.doc, path); !ok {
			path = pointer("/capabilities", slices.Index(r.m.Capabilities, NetworkRequest))
		}
		r.add(path, "%q needs at least one host in network.allowedHosts or a setting in network.allowedHostsFromSettings", NetworkRequest)
	case !wants && len(hosts) > 0:
		r.add("/network/allowedHosts", "hosts are listed but the %q capability is not declared; add it to \"capabilities\" or remove the hosts", NetworkRequest)
	case !wants && len(fromSettings) > 0:
		r.add("/network/allowedHostsFromSettings", "hosts from settings are listed but the %q capability is not declared; add it to \"capabilities\" or remove them", NetworkRequest)
	}
	seenKeys := map[string]int{}
	for i, key := range fromSettings {
		path := pointer("/network/allowedHostsFromSettings", i)
		if j, dup := seenKeys[key]; dup {
			r.add(path, "setting %q is listed twice (also at index %d)", key, j)
			continue
		}
		seenKeys[key] = i
		s, ok := r.m.Setting(key)
		switch {
		case !ok:
			r.add(path, "%q is not a setting of this plugin; declare a url setting with that key", key)
		case s.Type != SettingURL:
			r.add(path, "setting %q is a %s setting; only url settings can name a host", key, s.Type)
		}
	}
	seen := map[string]int{}
	for i, h := range hosts {
		path := pointer("/network/allowedHosts", i)
		p, err := ParseHostPattern(h)
		if err != nil {
			r.add(path, "%s", hostErrorText(err))
			continue
		}
		if j, dup := seen[p.String()]; dup {
			r.add(path, "host %q is listed twice (also at index %d)", h, j)
			continue
		}
		seen[p.String()] = i
	}
}

// hostErrorText drops the sentinel's prefix, which only repeats what the path says.
func hostErrorText(err error) string {
	return strings.TrimPrefix(err.Error(), ErrBadHostPattern.Error()+": ")
}

func (r *rules) hooks() {
	seen := map[HookName]int{}
	wall := r.m.EffectiveLimits(SiteDefaults).WallMs
	for i, h := range r.m.Hooks {
		path := pointer("/hooks", i)
		if v, _ := lookup(r.doc, path); v != nil {
			if _, isObj := v.(map[string]any); isObj {
				path += "/name"
			}
		}
		if !h.Name.Known() {
			continue // the schema reported it
		}
		if j, dup := seen[h.Name]; dup {
			r.add(path, "hook %q is declared twice (also at /hooks/%d)", h.Name, j)
			continue
		}
		seen[h.Name] = i
		if gate := h.Name.Gate(); gate != "" && !r.m.Grants(gate) {
			r.add(path, "hook %q needs the %q capability; add it to \"capabilities\"", h.Name, gate)
		}
		if h.ErrorPolicy != "" && !h.Name.CanAbort() {
			r.add(pointer("/hooks", i, "errorPolicy"), "hook %q cannot stop anything (its failures are always logged and nothing waits for it); remove \"errorPolicy\"", h.Name)
		}
		if h.TimeoutMs > wall {
			r.add(pointer("/hooks", i, "timeoutMs"), "timeoutMs %d is above the wall-time limit of %d ms", h.TimeoutMs, wall)
		}
	}
}

func (r *rules) storage() {
	for _, name := range r.m.StorageCollections() {
		decl := r.m.Storage[name]
		type at struct {
			list string
			i    int
		}
		seen := map[string]at{}
		for _, list := range []struct {
			key     string
			indexes []Index
		}{{"indexes", decl.Indexes}, {"uniqueIndexes", decl.UniqueIndexes}} {
			for i, ix := range list.indexes {
				path := pointer("/storage", name, list.key, i)
				fields := map[string]bool{}
				for j, f := range ix {
					if fields[f] {
						r.add(pointer(path, j), "field %q appears twice in this index", f)
					}
					fields[f] = true
				}
				key := strings.Join(ix, "\x00")
				if prev, dup := seen[key]; dup {
					if prev.list == list.key {
						r.add(path, "index %s is declared twice (also at index %d)", indexText(ix), prev.i)
					} else {
						r.add(path, "index %s is declared in both indexes and uniqueIndexes; a unique index can be queried too, so keep it only in uniqueIndexes", indexText(ix))
					}
				}
				seen[key] = at{list.key, i}
			}
		}
	}
}

func indexText(ix Index) string {
	if len(ix) == 1 {
		return fmt.Sprintf("%q", ix[0])
	}
	return fmt.Sprintf("[%s]", joinQuoted(ix))
}

func (r *rules) routes() {
	seen := map[string]int{}
	for i, rt := range r.m.Routes {
		path := pointer("/routes", i)
		name := rt.Name
		if name != "" {
			if strings.Contains(name, "//") || strings.HasSuffix(name, "/") {
				r.add(path+"/name", "route name %q must not contain empty segments (\"//\" or a trailing \"/\")", name)
			}
			if j, dup := seen[name]; dup {
				r.add(path+"/name", "route %q is declared twice (also at /routes/%d)", name, j)
			}
			seen[name] = i
		}
		if rt.Public && rt.Permission != "" {
			r.add(path+"/permission", "a public route takes no permission: anyone can call it; remove \"permission\" or \"public\"")
		}
		for j, o := range rt.Redirects {
			if msg := redirectOriginProblem(o); msg != "" {
				r.add(fmt.Sprintf("%s/redirects/%d", path, j), "redirect origin %q %s", o, msg)
			}
		}
	}
}

// redirectOriginProblem says what is wrong with a route's redirect origin, or
// "" when it is an https origin with nothing after the host.
func redirectOriginProblem(o string) string {
	u, err := url.Parse(o)
	switch {
	case err != nil || u.Host == "":
		return "is not an origin like \"https://example.com\""
	case u.Scheme != "https":
		return "must use https"
	case u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return "must be an origin only (scheme and host, no path, query or credentials)"
	}
	return ""
}

func (r *rules) settings() {
	seen := map[string]int{}
	hosts := r.m.Hosts()
	for i, s := range r.m.Settings {
		path := pointer("/settings", i)
		if s.Key != "" {
			if j, dup := seen[s.Key]; dup {
				r.add(path+"/key", "setting %q is declared twice (also at /settings/%d)", s.Key, j)
			}
			seen[s.Key] = i
		}
		if s.Type == SettingSelect && len(s.Options) == 0 {
			r.add(path, "a select setting needs \"options\"")
		}
		if s.Type != SettingSelect && len(s.Options) > 0 {
			r.add(path+"/options", "only select settings take \"options\"")
		}
		values := map[string]int{}
		for j, o := range s.Options {
			if k, dup := values[o.Value]; dup {
				r.add(pointer(path, "options", j, "value"), "option value %q is listed twice (also at index %d)", o.Value, k)
			}
			values[o.Value] = j
		}
		if s.Type != SettingSecret {
			if s.Inject != nil {
				r.add(path+"/inject", "only secret settings can be injected into requests")
			}
			if s.Exposed {
				r.add(path+"/exposed", "only secret settings can be \"exposed\"; other settings always reach ctx.settings")
			}
		}
		if s.Default != nil {
			r.settingDefault(path+"/default", s)
		}
		if s.Inject != nil && s.Type == SettingSecret {
			r.inject(path+"/inject", *s.Inject, hosts)
		}
	}
}

func (r *rules) settingDefault(path string, s Setting) {
	switch s.Type {
	case SettingSecret:
		r.add(path, "a secret cannot have a default: it would be published in the manifest")
	case SettingNumber:
		if _, ok := s.Default.(float64); !ok {
			r.add(path, "the default of a number setting must be a number")
		}
	case SettingBoolean:
		if _, ok := s.Default.(bool); !ok {
			r.add(path, "the default of a boolean setting must be true or false")
		}
	default:
		str, ok := s.Default.(string)
		if !ok {
			r.add(path, "the default of a %s setting must be a string", s.Type)
			return
		}
		switch s.Type {
		case SettingSelect:
			if len(s.Options) > 0 && !slices.ContainsFunc(s.Options, func(o Option) bool { return o.Value == str }) {
				r.add(path, "default %q is not one of the options", str)
			}
		case SettingURL:
			if u, err := url.Parse(str); str != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
				r.add(path, "default %q is not an absolute http:// or https:// URL", str)
			}
		case SettingEmail:
			if _, err := mail.ParseAddress(str); str != "" && err != nil {
				r.add(path, "default %q is not an email address", str)
			}
		}
	}
}

// forbiddenHeaders may not carry secrets: they frame the request itself.
var forbiddenHeaders = map[string]bool{
	"host": true, "content-length": true, "transfer-encoding": true, "connection": true,
	"upgrade": true, "te": true, "trailer": true, "keep-alive": true, "proxy-connection": true,
}

func (r *rules) inject(path string, in SecretInject, hosts HostSet) {
	switch {
	case in.Host != "" && in.HostFromSetting != "":
		r.add(path, "give host or hostFromSetting, not both")
	case in.Host == "" && in.HostFromSetting == "":
		r.add(path, "give the host the secret is sent to: host, or hostFromSetting")
	case in.HostFromSetting != "" && !slices.Contains(r.m.HostsFromSettings(), in.HostFromSetting):
		r.add(path+"/hostFromSetting", "setting %q is not in network.allowedHostsFromSettings", in.HostFromSetting)
	}
	if in.Host != "" {
		p, err := ParseHostPattern(in.Host)
		switch {
		case err != nil:
			r.add(path+"/host", "%s", hostErrorText(err))
		case !hosts.Covers(p):
			r.add(path+"/host", "host %q is not in network.allowedHosts", in.Host)
		}
	}
	if in.Header == "" {
		return
	}
	name, tmpl, ok := strings.Cut(in.Header, ":")
	switch {
	case !ok:
		r.add(path+"/header", "header must look like \"Authorization: Bearer {value}\"")
	case !isToken(name):
		r.add(path+"/header", "%q is not a valid header name", name)
	case forbiddenHeaders[strings.ToLower(name)]:
		r.add(path+"/header", "the %s header cannot carry a secret", name)
	case !strings.Contains(tmpl, "{value}"):
		r.add(path+"/header", "the header value must contain {value} where the secret goes")
	case strings.ContainsAny(tmpl, "\r\n\x00"):
		r.add(path+"/header", "the header value must not contain line breaks")
	}
}

// isToken reports whether s is an HTTP token (RFC 9110 §5.6.2).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// cronParser accepts exactly the five standard fields. Of the descriptors
// only the five of ScheduleDescriptors are accepted: "@every 1s" could ask
// for a run every second, and time zones are refused because schedules run
// in UTC.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ScheduleDescriptors are the shorthand schedules accepted besides the five
// fields.
var ScheduleDescriptors = []string{"@hourly", "@daily", "@weekly", "@monthly", "@yearly"}

func (r *rules) cron() {
	if len(r.m.Cron) > 0 {
		if _, ok := r.m.Hook(HookCron); !ok {
			r.add("/cron", "schedules are declared but the %q hook is not; add it to \"hooks\"", HookCron)
		}
	}
	seen := map[string]int{}
	for i, s := range r.m.Cron {
		path := pointer("/cron", i)
		if s.Name != "" {
			if j, dup := seen[s.Name]; dup {
				r.add(path+"/name", "schedule %q is declared twice (also at /cron/%d)", s.Name, j)
			}
			seen[s.Name] = i
		}
		if s.Schedule != "" {
			if _, err := ParseSchedule(s.Schedule); err != nil {
				r.add(path+"/schedule", "%s", strings.TrimPrefix(err.Error(), ErrBadSchedule.Error()+": "))
			}
		}
	}
}

// ErrBadSchedule marks a schedule ParseSchedule refuses.
var ErrBadSchedule = errors.New("bad schedule")

// ParseSchedule parses a schedule of the manifest or of ctx.cron.schedule:
// five cron fields (minute hour day-of-month month day-of-week) or one of
// ScheduleDescriptors, in UTC. robfig/cron panics on some malformed "TZ="
// prefixes, so those are refused before it sees them, and a recover keeps
// any other library panic from taking down the caller.
func ParseSchedule(expr string) (sched cron.Schedule, err error) {
	bad := func(format string, args ...any) (cron.Schedule, error) {
		return nil, fmt.Errorf("%w: schedule %q is not a 5-field cron expression (minute hour day-of-month month day-of-week) or one of %s: %s",
			ErrBadSchedule, expr, strings.Join(ScheduleDescriptors, ", "), fmt.Sprintf(format, args...))
	}
	t := strings.TrimSpace(expr)
	if strings.HasPrefix(t, "TZ=") || strings.HasPrefix(t, "CRON_TZ=") {
		return bad("time zones are not supported; schedules run in UTC")
	}
	if strings.HasPrefix(t, "@") && !slices.Contains(ScheduleDescriptors, t) {
		return bad("unknown descriptor")
	}
	defer func() {
		if p := recover(); p != nil {
			sched, err = bad("unparseable: %v", p)
		}
	}()
	s, perr := cronParser.Parse(t)
	if perr != nil {
		return bad("%v", perr)
	}
	return s, nil
}

func (r *rules) limits() {
	if r.m.Limits == nil {
		return
	}
	site := SiteDefaults
	for _, f := range limitFields {
		if v := f.req(r.m.Limits); v != nil && *v > *f.site(&site) {
			r.add(pointer("/limits", f.key), "%s %d is above the site default of %d; a manifest may only lower limits", f.key, *v, *f.site(&site))
		}
	}
}
