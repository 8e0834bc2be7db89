package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Manifest is a parsed and validated manifest.json. Values come only from Parse, so
// every field here has passed the schema and the semantic rules.
type Manifest struct {
	Schema       string                       `json:"$schema,omitempty"`
	ID           string                       `json:"id"`
	Version      string                       `json:"version"`
	Name         string                       `json:"name"`
	Description  string                       `json:"description,omitempty"`
	Author       string                       `json:"author,omitempty"`
	License      string                       `json:"license,omitempty"`
	Homepage     string                       `json:"homepage,omitempty"`
	Capabilities []Capability                 `json:"capabilities,omitempty"`
	Network      *Network                     `json:"network,omitempty"`
	Storage      map[string]StorageCollection `json:"storage,omitempty"`
	Hooks        []Hook                       `json:"hooks,omitempty"`
	Routes       []Route                      `json:"routes,omitempty"`
	Settings     []Setting                    `json:"settings,omitempty"`
	Cron         []Schedule                   `json:"cron,omitempty"`
	Limits       *LimitRequest                `json:"limits,omitempty"`
	Admin        *Admin                       `json:"admin,omitempty"`
	Origin       *Origin                      `json:"origin,omitempty"`
}

// Origin records that the plugin was translated from another CMS's plugin
// format (SPEC §11 "EmDash plugins"), so the admin consenting to it knows the
// grants shown are a translation of what the original declared.
type Origin struct {
	// Format is the original format: "emdash".
	Format string `json:"format"`
	// From is "bundle" (a sandboxed .tar.gz) or "source" (a source folder).
	From string `json:"from"`
	// ID and Version are the plugin's in the original format.
	ID      string `json:"id"`
	Version string `json:"version,omitempty"`
}

// Line is what the consent screen says about a translated plugin.
func (o *Origin) Line() string {
	what := "an EmDash plugin bundle"
	if o.From == "source" {
		what = "an EmDash plugin's source"
	}
	id := o.ID
	if o.Version != "" {
		id += " " + o.Version
	}
	return fmt.Sprintf("Came from %s (%s), translated by Pilcrow: it gets only the grants listed here, and every limit is enforced", what, id)
}

// Admin is the manifest's "admin" object: pages the plugin adds to the admin
// and widgets it adds to the dashboard (SPEC §11). The host renders both from
// the blocks the plugin's private route AdminRoute answers.
type Admin struct {
	Pages   []AdminPage   `json:"pages,omitempty"`
	Widgets []AdminWidget `json:"widgets,omitempty"`
}

// AdminRoute is the private route the host calls for the plugin's admin
// pages, widgets and their actions.
const AdminRoute = "admin"

// AdminPage is one page, served at /admin/plugins/{id}{path}.
type AdminPage struct {
	Path  string `json:"path"`
	Label string `json:"label"`
}

// AdminWidget is one dashboard widget.
type AdminWidget struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// Size is full, half or third of the dashboard's width; empty is full.
	Size string `json:"size,omitempty"`
}

// ReservedAdminPaths are page paths the host's own plugin pages use.
var ReservedAdminPaths = []string{"/settings", "/logs", "/activate", "/deactivate", "/uninstall", "/action", "/reject-upgrade"}

// AdminPages returns the declared admin pages (none for a nil manifest).
func (m *Manifest) AdminPages() []AdminPage {
	if m == nil || m.Admin == nil {
		return nil
	}
	return m.Admin.Pages
}

// AdminWidgets returns the declared dashboard widgets.
func (m *Manifest) AdminWidgets() []AdminWidget {
	if m == nil || m.Admin == nil {
		return nil
	}
	return m.Admin.Widgets
}

// AdminPage returns the declared page at path.
func (m *Manifest) AdminPage(path string) (AdminPage, bool) {
	for _, p := range m.AdminPages() {
		if p.Path == path {
			return p, true
		}
	}
	return AdminPage{}, false
}

// AdminWidget returns the declared widget with the given id.
func (m *Manifest) AdminWidget(id string) (AdminWidget, bool) {
	for _, w := range m.AdminWidgets() {
		if w.ID == id {
			return w, true
		}
	}
	return AdminWidget{}, false
}

// Network is the manifest's "network" object.
type Network struct {
	// AllowedHosts are host patterns (see ParseHostPattern) as written.
	AllowedHosts []string `json:"allowedHosts,omitempty"`
	// AllowedHostsFromSettings name url settings whose host (https only,
	// the default port unless the URL gives one) is an allowed host once
	// the admin saves the setting.
	AllowedHostsFromSettings []string `json:"allowedHostsFromSettings,omitempty"`
}

// HostsFromSettings returns the keys of network.allowedHostsFromSettings.
func (m *Manifest) HostsFromSettings() []string {
	if m == nil || m.Network == nil {
		return nil
	}
	return m.Network.AllowedHostsFromSettings
}

// Setting returns the declared setting with the given key.
func (m *Manifest) Setting(key string) (Setting, bool) {
	for _, s := range m.Settings {
		if s.Key == key {
			return s, true
		}
	}
	return Setting{}, false
}

// SettingHost is the host a URL saved in an allowedHostsFromSettings
// setting allows: its host, with its port unless it is https's default.
// Only absolute https URLs with a host and no credentials qualify.
func SettingHost(raw string) (HostPattern, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Opaque != "" {
		return HostPattern{}, fmt.Errorf("%q is not an https:// URL (requests to an address from the settings go over https only)", raw)
	}
	if u.User != nil {
		return HostPattern{}, fmt.Errorf("%q has a user name or password: put credentials in a secret setting instead", raw)
	}
	host := u.Host
	if u.Port() == "443" {
		host = u.Hostname()
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	if strings.HasPrefix(u.Hostname(), "*") {
		return HostPattern{}, fmt.Errorf("%q: a wildcard is not an address", raw)
	}
	return ParseHostPattern(host)
}

// StorageCollection declares one of the plugin's own storage collections.
type StorageCollection struct {
	// Indexes lists single-field indexes and composite ones (several fields).
	Indexes []Index `json:"indexes,omitempty"`
	// UniqueIndexes are indexes whose values no two documents may share
	// (documents with a null or absent field take no part). They can be
	// queried like Indexes.
	UniqueIndexes []Index `json:"uniqueIndexes,omitempty"`
}

// Index is one storage index: a list of field names. In JSON a single-field index
// may be written as a bare string.
type Index []string

// UnmarshalJSON accepts "field" or ["a", "b"]. Like Hook's, it never fails: a value
// of the wrong type decodes as far as it can, because Parse reports wrong types from
// the schema and must still run the remaining rules on the rest of the manifest.
func (ix *Index) UnmarshalJSON(b []byte) error {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte(`"`)) {
		var s string
		_ = json.Unmarshal(b, &s)
		*ix = Index{s}
		return nil
	}
	var fields []string
	_ = json.Unmarshal(b, &fields)
	*ix = fields
	return nil
}

// DefaultHookPriority is the priority of a hook declared without one. Hooks run in
// ascending priority, then install order.
const DefaultHookPriority = 100

// Hook is one declared hook. In JSON it is either the hook's name or an object
// {name, priority, timeoutMs, errorPolicy}.
type Hook struct {
	Name     HookName `json:"name"`
	Priority int      `json:"priority"`
	// TimeoutMs is 0 when the manifest gave none; see Manifest.HookTimeoutMs.
	TimeoutMs int `json:"timeoutMs,omitempty"`
	// ErrorPolicy is what a failure of the hook does: ErrorAbort (the
	// default) or ErrorContinue. "" when the manifest gave none.
	ErrorPolicy ErrorPolicy `json:"errorPolicy,omitempty"`
	// PrioritySet reports whether the manifest gave a priority (which then
	// wins over the one the code exports).
	PrioritySet bool `json:"-"`
}

// ErrorPolicy says what a hook's failure (a throw, a limit, a timeout) does
// to the operation that ran it.
type ErrorPolicy string

const (
	// ErrorAbort: the failure rejects the operation (a before-hook's save,
	// delete or upload, an activation). The default.
	ErrorAbort ErrorPolicy = "abort"
	// ErrorContinue: the failure is logged and the operation proceeds with
	// the data unchanged.
	ErrorContinue ErrorPolicy = "continue"
)

// Continues reports whether the hook's failures let the operation proceed.
func (h Hook) Continues() bool { return h.ErrorPolicy == ErrorContinue }

// UnmarshalJSON accepts "content:afterSave" or {"name": …, "priority": …,
// "timeoutMs": …, "errorPolicy": …}. It never fails (see Index.UnmarshalJSON);
// Parse reports wrong types.
func (h *Hook) UnmarshalJSON(b []byte) error {
	h.Priority = DefaultHookPriority
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte(`"`)) {
		_ = json.Unmarshal(b, &h.Name)
		return nil
	}
	type plain Hook // no UnmarshalJSON method, so no recursion
	p := plain(*h)
	_ = json.Unmarshal(b, &p)
	*h = Hook(p)
	var keys map[string]json.RawMessage
	_ = json.Unmarshal(b, &keys)
	_, h.PrioritySet = keys["priority"]
	return nil
}

// Route is one plugin route, served at /api/p/{pluginId}/{name}.
type Route struct {
	Name string `json:"name"`
	// Public routes need no signed-in user; anyone on the internet can call them.
	Public bool `json:"public,omitempty"`
	// Permission is the least role ("admin", "editor" or "author") a caller of a
	// private route needs; empty means admin (see LeastRole). Never set on
	// public routes.
	Permission string `json:"permission,omitempty"`
	// Redirects are the origins ("https://host[:port]") a response's Location
	// may point to; without them a route redirects only to paths on this site.
	Redirects []string `json:"redirects,omitempty"`
}

// DefaultRoutePermission is the least role of a private route that names
// none: plugin routes often expose settings or data, so only admins call
// them unless the manifest says otherwise.
const DefaultRoutePermission = "admin"

// LeastRole is the least role a caller of the private route needs.
func (r Route) LeastRole() string {
	if r.Permission == "" {
		return DefaultRoutePermission
	}
	return r.Permission
}

// Path returns the route's URL path for the given plugin id.
func (r Route) Path(pluginID string) string { return "/api/p/" + pluginID + "/" + r.Name }

// SettingType is the type of one settings field.
type SettingType string

// The settings field types.
const (
	SettingString  SettingType = "string"
	SettingText    SettingType = "text"
	SettingNumber  SettingType = "number"
	SettingBoolean SettingType = "boolean"
	SettingSelect  SettingType = "select"
	SettingURL     SettingType = "url"
	SettingEmail   SettingType = "email"
	SettingSecret  SettingType = "secret"
)

// Setting is one field of the plugin's settings form.
type Setting struct {
	Key         string        `json:"key"`
	Label       string        `json:"label"`
	Description string        `json:"description,omitempty"`
	Type        SettingType   `json:"type"`
	Required    bool          `json:"required,omitempty"`
	Default     any           `json:"default,omitempty"`
	Placeholder string        `json:"placeholder,omitempty"`
	Options     []Option      `json:"options,omitempty"`
	Inject      *SecretInject `json:"inject,omitempty"`
	// Exposed secrets are readable by plugin code in ctx.settings; other secrets
	// never enter the isolate.
	Exposed bool `json:"exposed,omitempty"`
}

// VisibleToPlugin reports whether the setting's value is put into ctx.settings.
func (s Setting) VisibleToPlugin() bool { return s.Type != SettingSecret || s.Exposed }

// Option is one choice of a select setting.
type Option struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

// SecretInject binds a secret setting to a host: the egress client adds the header
// to requests whose URL matches Host, so plugin code never handles the secret.
type SecretInject struct {
	// Host is a host pattern covered by network.allowedHosts.
	Host string `json:"host,omitempty"`
	// HostFromSetting instead names a setting of
	// network.allowedHostsFromSettings: the secret goes to the host the
	// admin entered there.
	HostFromSetting string `json:"hostFromSetting,omitempty"`
	// Header is "Name: template", the template containing {value} at least once.
	Header string `json:"header"`
}

// HeaderName returns the header's name, e.g. "Authorization".
func (s SecretInject) HeaderName() string {
	name, _, _ := strings.Cut(s.Header, ":")
	return strings.TrimSpace(name)
}

// HeaderValue returns the header value with the secret substituted for {value}.
func (s SecretInject) HeaderValue(secret string) string {
	_, tmpl, _ := strings.Cut(s.Header, ":")
	return strings.ReplaceAll(strings.TrimSpace(tmpl), "{value}", secret)
}

// Pattern returns the parsed host pattern of the binding.
func (s SecretInject) Pattern() (HostPattern, error) { return ParseHostPattern(s.Host) }

// Schedule is one named cron schedule; the cron hook receives its name.
type Schedule struct {
	Name string `json:"name"`
	// Schedule is a standard 5-field cron expression or one of the
	// descriptors @hourly, @daily, @weekly, @monthly, @yearly, evaluated in
	// UTC (see ParseSchedule).
	Schedule string `json:"schedule"`
}

// Grants reports whether the manifest grants c, directly or by implication
// (content:write implies content:read, media:write implies media:read).
func (m *Manifest) Grants(c Capability) bool {
	return m != nil && GrantedBy(m.Capabilities, c)
}

// Hook returns the declared hook with the given name.
func (m *Manifest) Hook(name HookName) (Hook, bool) {
	for _, h := range m.Hooks {
		if h.Name == name {
			return h, true
		}
	}
	return Hook{}, false
}

// HookNames returns the names of the declared hooks, in manifest order.
func (m *Manifest) HookNames() []HookName {
	out := make([]HookName, len(m.Hooks))
	for i, h := range m.Hooks {
		out[i] = h.Name
	}
	return out
}

// Route returns the declared route with the given name.
func (m *Manifest) Route(name string) (Route, bool) {
	for _, r := range m.Routes {
		if r.Name == name {
			return r, true
		}
	}
	return Route{}, false
}

// AllowedHosts returns the raw host patterns (nil when the manifest has none).
func (m *Manifest) AllowedHosts() []string {
	if m == nil || m.Network == nil {
		return nil
	}
	return m.Network.AllowedHosts
}

// Hosts returns the parsed network.allowedHosts. Patterns that do not parse are
// skipped, which cannot happen for a manifest that came from Parse.
func (m *Manifest) Hosts() HostSet {
	var set HostSet
	for _, h := range m.AllowedHosts() {
		if p, err := ParseHostPattern(h); err == nil {
			set = append(set, p)
		}
	}
	return set
}

// StorageCollections returns the storage collection names, sorted.
func (m *Manifest) StorageCollections() []string {
	names := make([]string, 0, len(m.Storage))
	for n := range m.Storage {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// String returns "id@version".
func (m *Manifest) String() string { return fmt.Sprintf("%s@%s", m.ID, m.Version) }
