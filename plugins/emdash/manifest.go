package emdash

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

// ManifestFile is the EmDash manifest's name in a bundle; problems with it
// name this file and a JSON pointer into it.
const ManifestFile = "manifest.json"

// Translation is an EmDash manifest made into a Pilcrow one.
type Translation struct {
	// Manifest is the parsed Pilcrow manifest (from JSON, so it passed
	// manifest.Parse).
	Manifest *manifest.Manifest
	// JSON is the Pilcrow manifest.json.
	JSON []byte
	// Meta is what the adapter needs at run time: the EmDash names and
	// options behind each Pilcrow hook, route and setting.
	Meta Meta
}

// Meta configures shim.js for one plugin. It is JSON in the built script.
type Meta struct {
	ID       string        `json:"id"`
	Hooks    []MetaHook    `json:"hooks"`
	Routes   []MetaRoute   `json:"routes"`
	Settings []MetaSetting `json:"settings"`
	// Admin is true when the plugin declares admin pages or widgets: its
	// "admin" route then speaks Block Kit.
	Admin bool `json:"admin"`
}

// MetaHook is one hook: its name (the same in both vocabularies).
type MetaHook struct {
	Name string `json:"name"`
}

// MetaRoute is one route and the options only the adapter applies.
type MetaRoute struct {
	Name         string `json:"name"`
	CacheControl string `json:"cacheControl,omitempty"`
}

// MetaSetting is one setting the plugin reads as kv "settings:<key>".
type MetaSetting struct {
	Key  string   `json:"key"`
	Type string   `json:"type"`
	Min  *float64 `json:"min,omitempty"`
	Max  *float64 `json:"max,omitempty"`
}

// Describe is what a translation may add that EmDash's manifest.json lacks:
// a source folder's emdash-plugin.jsonc names the plugin and its author.
type Describe struct {
	Name, Description, Author, License, Homepage string
	// From is "bundle" or "source", recorded in the manifest's origin.
	From string
}

// The capability names EmDash accepts, current and legacy, and what each is
// in Pilcrow: a capability, or a refusal saying why.
var capabilityMap = map[string]string{
	"content:read":    "content:read",
	"read:content":    "content:read",
	"content:write":   "content:write",
	"write:content":   "content:write",
	"media:read":      "media:read",
	"read:media":      "media:read",
	"media:write":     "media:write",
	"write:media":     "media:write",
	"users:read":      "users:read",
	"read:users":      "users:read",
	"email:send":      "email:send",
	"network:request": "network:request",
	"network:fetch":   "network:request",
}

// refusedCapabilities explains each EmDash capability Pilcrow cannot honour.
var refusedCapabilities = map[string]string{
	"network:request:unrestricted":   refuseUnrestricted,
	"network:fetch:any":              refuseUnrestricted,
	"taxonomies:read":                refuseTaxonomies,
	"hooks.email-transport:register": refuseEmailTransport,
	"email:provide":                  refuseEmailTransport,
	"hooks.email-events:register":    refuseEmailEvents,
	"email:intercept":                refuseEmailEvents,
	"hooks.page-fragments:register":  refusePageFragments,
	"page:inject":                    refusePageFragments,
}

const (
	refuseUnrestricted = "unrestricted network access cannot be granted: Pilcrow plugins reach only hosts the admin can see at consent. " +
		"List the hosts in allowedHosts, or, for a host the site admin chooses, declare a url setting and name it in the Pilcrow manifest's network.allowedHostsFromSettings (see docs/emdash.md)"
	refuseTaxonomies     = "taxonomies are not part of Pilcrow's content model, so ctx.taxonomies cannot be provided"
	refuseEmailTransport = "Pilcrow delivers mail through the transport the administrator configures (--smtp); a plugin cannot become the site's email transport"
	refuseEmailEvents    = "Pilcrow has no email events: plugins cannot read or change the site's outgoing mail"
	refusePageFragments  = "page fragments inject scripts and markup into every public page, which Pilcrow does not let sandboxed plugins do; page:metadata (meta, link and JSON-LD) is supported"
)

// hookMap lists the EmDash hooks Pilcrow has, under the same names.
var hookMap = map[string]bool{
	"plugin:install": true, "plugin:activate": true, "plugin:deactivate": true, "plugin:uninstall": true,
	"content:beforeSave": true, "content:afterSave": true, "content:beforeDelete": true, "content:afterDelete": true,
	"content:afterPublish": true, "content:afterUnpublish": true,
	"media:beforeUpload": true, "media:afterUpload": true,
	"cron": true, "page:metadata": true,
}

// refusedHooks explains each EmDash hook Pilcrow cannot run.
var refusedHooks = map[string]string{
	"content:afterRestore":    "Pilcrow has no restore event (entries come back from the trash as an ordinary save, which content:afterSave sees)",
	"content:afterSchedule":   "Pilcrow has no scheduling event (a scheduled entry's publication runs content:afterPublish)",
	"content:afterUnschedule": "Pilcrow has no scheduling event",
	"email:beforeSend":        refuseEmailEvents,
	"email:afterSend":         refuseEmailEvents,
	"email:deliver":           refuseEmailTransport,
	"comment:beforeCreate":    "Pilcrow has no comments, so comment hooks never run",
	"comment:moderate":        "Pilcrow has no comments, so comment hooks never run",
	"comment:afterCreate":     "Pilcrow has no comments, so comment hooks never run",
	"comment:afterModerate":   "Pilcrow has no comments, so comment hooks never run",
	"page:fragments":          refusePageFragments,
}

// permissionRoles maps EmDash's route permissions to the least role they
// need there (subscriber 10, contributor 20, author 30, editor 40, admin 50).
var permissionRoles = map[string]int{
	"content:read": 10, "content:read_drafts": 20, "content:create": 20, "content:edit_own": 30, "content:edit_any": 40,
	"content:delete_own": 30, "content:delete_any": 40, "content:delete_permanent": 50,
	"content:publish_own": 30, "content:publish_any": 40,
	"media:read": 10, "media:upload": 20, "media:edit_own": 30, "media:edit_any": 40, "media:delete_own": 30, "media:delete_any": 40,
	"taxonomies:read": 10, "taxonomies:manage": 40,
	"comments:read": 10, "comments:moderate": 40, "comments:delete": 50, "comments:settings": 50,
	"menus:read": 10, "menus:manage": 40, "bylines:read": 10, "bylines:manage": 40,
	"widgets:read": 10, "widgets:manage": 40, "sections:read": 10, "sections:manage": 40,
	"redirects:read": 40, "redirects:manage": 50,
	"users:read": 50, "users:invite": 50, "users:manage": 50,
	"settings:read": 40, "settings:manage": 50, "schema:read": 40, "schema:manage": 50,
	"plugins:read": 40, "plugins:manage": 50, "import:execute": 50, "backups:manage": 50,
}

// pilcrowRole is the Pilcrow role for an EmDash role level. Pilcrow's least
// role is author, so levels below it (subscriber, contributor) become author:
// stricter, never looser.
func pilcrowRole(level int) string {
	switch {
	case level >= 50:
		return "admin"
	case level >= 40:
		return "editor"
	}
	return "author"
}

var (
	pilcrowRouteName = regexp.MustCompile(`^[a-z0-9][a-z0-9/_-]*$`)
	pilcrowPagePath  = regexp.MustCompile(`^/[a-z0-9/_-]*$`)
	pilcrowID        = regexp.MustCompile(`^[a-z][a-z0-9-]{1,63}$`)
	settingKey       = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]*$`)
)

// knownTop are the EmDash manifest's fields; anything else is refused, since
// Pilcrow cannot know what an unknown field asks for.
var knownTop = []string{"id", "version", "declaredAccess", "capabilities", "allowedHosts", "storage", "hooks", "routes", "mcp", "admin"}

// translator collects problems while building the Pilcrow manifest.
type translator struct {
	probs manifest.Problems
	file  string
}

func (t *translator) add(path, format string, args ...any) {
	t.probs = append(t.probs, manifest.Problem{File: t.file, Path: path, Message: fmt.Sprintf(format, args...)})
}

func ptr(base string, key any) string {
	s := fmt.Sprint(key)
	s = strings.ReplaceAll(s, "~", "~0")
	s = strings.ReplaceAll(s, "/", "~1")
	return base + "/" + s
}

// decode unmarshals raw into v, reporting a wrong type at path.
func (t *translator) decode(path string, raw json.RawMessage, v any, want string) bool {
	if err := json.Unmarshal(raw, v); err != nil {
		t.add(path, "must be %s", want)
		return false
	}
	return true
}

// Translate turns an EmDash manifest.json into a Pilcrow manifest. Every
// feature Pilcrow cannot honour is one problem, with a JSON pointer into the
// EmDash manifest; nothing is dropped without one.
func Translate(data []byte, d Describe) (*Translation, manifest.Problems) {
	t := &translator{file: ManifestFile}
	if len(data) > manifest.MaxSize {
		t.add("", "manifest.json is %d bytes; the limit is %d", len(data), manifest.MaxSize)
		return nil, t.probs
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		t.add("", "not a JSON object: %v", err)
		return nil, t.probs
	}
	for _, k := range sortedKeys(top) {
		if !slices.Contains(knownTop, k) {
			t.add(ptr("", k), "unknown field %q in an EmDash manifest; Pilcrow cannot tell what it asks for", k)
		}
	}
	m := &manifest.Manifest{}
	var emID, version string
	if raw, ok := top["id"]; !ok || !t.decode("/id", raw, &emID, "a string") || emID == "" {
		if !ok {
			t.add("/id", "missing: an EmDash manifest names its plugin id")
		}
	}
	if raw, ok := top["version"]; !ok {
		t.add("/version", "missing: an EmDash manifest names its version")
	} else {
		t.decode("/version", raw, &version, "a string")
	}
	m.ID = pilcrowIDFor(emID)
	if emID != "" && !pilcrowID.MatchString(m.ID) {
		t.add("/id", "id %q becomes %q in Pilcrow, which is not a valid plugin id (lowercase letters, digits and '-', starting with a letter, 2 to 64 characters)", emID, m.ID)
	}
	m.Version = version
	m.Name = d.Name
	if m.Name == "" {
		m.Name = emID
	}
	if len(m.Name) > 100 {
		m.Name = m.Name[:100]
	}
	m.Description, m.Author, m.License, m.Homepage = d.Description, d.Author, d.License, d.Homepage
	from := d.From
	if from == "" {
		from = "bundle"
	}
	m.Origin = &manifest.Origin{Format: "emdash", From: from, ID: emID, Version: version}

	caps, hosts := t.access(top)
	meta := Meta{ID: m.ID, Hooks: []MetaHook{}, Routes: []MetaRoute{}, Settings: []MetaSetting{}}
	m.Hooks = t.hooks(top["hooks"], &meta)
	for _, h := range m.Hooks {
		if h.Name == manifest.HookPageMetadata && !slices.Contains(caps, manifest.PageMetadata) {
			// EmDash needs no capability for page:metadata; Pilcrow gates
			// it, and the consent screen says what it adds.
			caps = append(caps, manifest.PageMetadata)
		}
	}
	t.gates(caps, m.Hooks)
	m.Capabilities = canonical(caps)
	if len(hosts) > 0 {
		m.Network = &manifest.Network{AllowedHosts: hosts}
	}
	m.Storage = t.storage(top["storage"])
	m.Routes = t.routes(top["routes"], &meta)
	if raw, ok := top["mcp"]; ok && !isNull(raw) {
		t.add("/mcp", "MCP tools are not supported: Pilcrow has no MCP server, so tools would never be called. Its routes still work as plain routes")
	}
	m.Admin, m.Settings = t.admin(top["admin"], &meta)
	if m.Admin != nil {
		meta.Admin = true
		if rt, ok := routeIndex(m.Routes, manifest.AdminRoute); ok {
			// Pilcrow's admin pages are for admins only; a lower EmDash
			// permission narrows to that, never widens.
			m.Routes[rt].Permission = ""
		}
	}
	if len(t.probs) > 0 {
		return nil, t.probs
	}
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.add("", "cannot write the translated manifest: %v", err)
		return nil, t.probs
	}
	out = append(out, '\n')
	pm, probs := manifest.Parse(out)
	if len(probs) > 0 {
		// What the translation could not foresee (a reserved page path, too
		// many routes): Pilcrow's own rule, named on the translated manifest.
		for i := range probs {
			probs[i].File = "manifest.json (as translated for Pilcrow)"
			probs[i].Line, probs[i].Column = 0, 0
		}
		return nil, probs
	}
	return &Translation{Manifest: pm, JSON: out, Meta: meta}, nil
}

// pilcrowIDFor derives the Pilcrow id: "@scope/name" becomes "scope-name",
// "_" becomes "-", letters are lowered.
func pilcrowIDFor(id string) string {
	s := strings.TrimPrefix(strings.ToLower(id), "@")
	s = strings.NewReplacer("/", "-", "_", "-").Replace(s)
	return s
}

func canonical(caps []manifest.Capability) []manifest.Capability {
	var out []manifest.Capability
	for _, c := range manifest.AllCapabilities() {
		if slices.Contains(caps, c) {
			out = append(out, c)
		}
	}
	return out
}

// access reads declaredAccess when present (EmDash treats it as the trust
// contract and derives the capability list from it), else capabilities and
// allowedHosts.
func (t *translator) access(top map[string]json.RawMessage) ([]manifest.Capability, []string) {
	if raw, ok := top["declaredAccess"]; ok && !isNull(raw) {
		return t.declaredAccess(raw)
	}
	var caps []manifest.Capability
	var names []string
	if raw, ok := top["capabilities"]; ok {
		t.decode("/capabilities", raw, &names, "an array of capability names")
	}
	network := false
	for i, n := range names {
		path := ptr("/capabilities", i)
		if why, bad := refusedCapabilities[n]; bad {
			t.add(path, "capability %q: %s", n, why)
			continue
		}
		c, ok := capabilityMap[n]
		if !ok {
			t.add(path, "capability %q is not an EmDash capability Pilcrow knows", n)
			continue
		}
		if c == "network:request" {
			network = true
		}
		if !slices.Contains(caps, manifest.Capability(c)) {
			caps = append(caps, manifest.Capability(c))
		}
	}
	var hosts []string
	if raw, ok := top["allowedHosts"]; ok {
		t.decode("/allowedHosts", raw, &hosts, "an array of host patterns")
	}
	if network && len(hosts) == 0 {
		t.add("/allowedHosts", "network:request without allowedHosts means any host to EmDash: %s", refuseUnrestricted)
	}
	if !network && len(hosts) > 0 {
		t.add("/allowedHosts", "allowedHosts without the network:request capability grants nothing; add network:request or remove the hosts")
	}
	return caps, t.checkHosts("/allowedHosts", hosts)
}

// checkHosts keeps the host patterns Pilcrow parses and reports the rest.
func (t *translator) checkHosts(path string, hosts []string) []string {
	var out []string
	for i, h := range hosts {
		if _, err := manifest.ParseHostPattern(h); err != nil {
			t.add(ptr(path, i), "host pattern %q: %v", h, err)
			continue
		}
		out = append(out, h)
	}
	return out
}

// declaredAccess maps EmDash's {category: {operation: constraints}}.
func (t *translator) declaredAccess(raw json.RawMessage) ([]manifest.Capability, []string) {
	var da map[string]json.RawMessage
	if !t.decode("/declaredAccess", raw, &da, "an object of categories") {
		return nil, nil
	}
	var caps []manifest.Capability
	var hosts []string
	grant := func(c manifest.Capability) {
		if !slices.Contains(caps, c) {
			caps = append(caps, c)
		}
	}
	for _, cat := range sortedKeys(da) {
		cpath := ptr("/declaredAccess", cat)
		var ops map[string]json.RawMessage
		if !t.decode(cpath, da[cat], &ops, "an object of operations") {
			continue
		}
		for _, op := range sortedKeys(ops) {
			path := ptr(cpath, op)
			switch cat + "." + op {
			case "content.read", "content.write", "media.read", "media.write", "users.read", "email.send":
				grant(manifest.Capability(cat + ":" + op))
			case "network.request":
				var c struct {
					AllowedHosts *[]string `json:"allowedHosts"`
				}
				if !t.decode(path, ops[op], &c, "an object {allowedHosts}") {
					continue
				}
				if c.AllowedHosts == nil || len(*c.AllowedHosts) == 0 {
					t.add(path, "network.request without allowedHosts means any host to EmDash: %s", refuseUnrestricted)
					continue
				}
				grant(manifest.NetworkRequest)
				hosts = append(hosts, t.checkHosts(path+"/allowedHosts", *c.AllowedHosts)...)
			case "taxonomies.read":
				t.add(path, "%s", refuseTaxonomies)
			case "email.transport":
				t.add(path, "%s", refuseEmailTransport)
			case "email.events":
				t.add(path, "%s", refuseEmailEvents)
			case "page.fragments":
				t.add(path, "%s", refusePageFragments)
			default:
				t.add(path, "declared access %s.%s is not one Pilcrow knows", cat, op)
			}
		}
	}
	return caps, hosts
}

// gates checks each hook's Pilcrow gate against the translated grants: a
// gate the plugin does not hold would need more than it declared, and the
// translation never grants more than EmDash's manifest asks for.
func (t *translator) gates(caps []manifest.Capability, hooks []manifest.Hook) {
	for i, h := range hooks {
		g := h.Name.Gate()
		if g != "" && !manifest.GrantedBy(caps, g) {
			why := ""
			if h.Name == manifest.HookBeforeDelete {
				why = " (it may veto a deletion, which Pilcrow counts as changing content)"
			}
			t.add(ptr("/hooks", i), "hook %s needs the %s capability in Pilcrow%s; add it to capabilities", h.Name, g, why)
		}
	}
}

type emHook struct {
	Name      string   `json:"name"`
	Priority  *float64 `json:"priority"`
	Timeout   *float64 `json:"timeout"`
	Exclusive *bool    `json:"exclusive"`
	// ErrorPolicy comes from the code's hook config (source folders).
	ErrorPolicy string `json:"errorPolicy"`
}

func (t *translator) hooks(raw json.RawMessage, meta *Meta) []manifest.Hook {
	if len(raw) == 0 || isNull(raw) {
		return nil
	}
	var entries []json.RawMessage
	if !t.decode("/hooks", raw, &entries, "an array of hook names or {name, priority, timeout, exclusive}") {
		return nil
	}
	var out []manifest.Hook
	seen := map[string]bool{}
	for i, e := range entries {
		path := ptr("/hooks", i)
		var h emHook
		if bytes.HasPrefix(bytes.TrimSpace(e), []byte(`"`)) {
			if !t.decode(path, e, &h.Name, "a hook name") {
				continue
			}
		} else if !t.decode(path, e, &h, "a hook name or {name, priority, timeout, exclusive}") {
			continue
		}
		if why, bad := refusedHooks[h.Name]; bad {
			t.add(path, "hook %s: %s", h.Name, why)
			continue
		}
		if !hookMap[h.Name] {
			t.add(path, "hook %q is not an EmDash hook Pilcrow knows", h.Name)
			continue
		}
		if seen[h.Name] {
			t.add(path, "hook %s is declared twice", h.Name)
			continue
		}
		seen[h.Name] = true
		ph := manifest.Hook{Name: manifest.HookName(h.Name), Priority: manifest.DefaultHookPriority}
		if h.Priority != nil {
			p := *h.Priority
			if p != math.Trunc(p) || p < 0 || p > 10000 {
				t.add(path+"/priority", "priority %v: Pilcrow runs hooks by a whole priority from 0 to 10000 (lower first, as in EmDash)", p)
			} else {
				ph.Priority, ph.PrioritySet = int(p), true
			}
		}
		if h.Timeout != nil {
			ms := *h.Timeout
			if ms != math.Trunc(ms) || ms < 1 || ms > 5000 {
				t.add(path+"/timeout", "timeout %v ms: a Pilcrow hook's timeout is 1 to 5000 ms (the site's wall-time limit caps it)", ms)
			} else {
				ph.TimeoutMs = int(ms)
			}
		}
		if h.Exclusive != nil && *h.Exclusive {
			t.add(path+"/exclusive", "exclusive hooks (one plugin chosen to handle an event) do not exist in Pilcrow, where every plugin's hook runs in priority order")
		}
		switch h.ErrorPolicy {
		case "":
		case "abort", "continue":
			if ph.Name.CanAbort() {
				ph.ErrorPolicy = manifest.ErrorPolicy(h.ErrorPolicy)
			}
			// On hooks that cannot stop anything, both policies are what
			// Pilcrow does anyway: failures are logged (and after hooks
			// retried).
		default:
			t.add(path+"/errorPolicy", "errorPolicy %q is not \"abort\" or \"continue\"", h.ErrorPolicy)
		}
		out = append(out, ph)
		meta.Hooks = append(meta.Hooks, MetaHook{Name: h.Name})
	}
	return out
}

type emRoute struct {
	Name         string `json:"name"`
	Public       bool   `json:"public"`
	Permission   string `json:"permission"`
	CacheControl string `json:"cacheControl"`
}

func (t *translator) routes(raw json.RawMessage, meta *Meta) []manifest.Route {
	if len(raw) == 0 || isNull(raw) {
		return nil
	}
	var entries []json.RawMessage
	if !t.decode("/routes", raw, &entries, "an array of route names or {name, public, permission, cacheControl}") {
		return nil
	}
	var out []manifest.Route
	for i, e := range entries {
		path := ptr("/routes", i)
		var r emRoute
		if bytes.HasPrefix(bytes.TrimSpace(e), []byte(`"`)) {
			if !t.decode(path, e, &r.Name, "a route name") {
				continue
			}
		} else if !t.decode(path, e, &r, "a route name or {name, public, permission, cacheControl}") {
			continue
		}
		if !pilcrowRouteName.MatchString(r.Name) || len(r.Name) > 128 || strings.Contains(r.Name, "//") || strings.HasSuffix(r.Name, "/") {
			t.add(path, "route name %q: Pilcrow serves routes at /api/p/<id>/<name>, where a name is lowercase letters, digits, '/', '_' and '-' (no empty segments, at most 128); renaming it would change the URL the plugin's callers use", r.Name)
			continue
		}
		pr := manifest.Route{Name: r.Name, Public: r.Public}
		if r.Permission != "" {
			level, ok := permissionRoles[r.Permission]
			switch {
			case !ok:
				t.add(path+"/permission", "permission %q is not an EmDash permission Pilcrow knows", r.Permission)
			case r.Public:
				t.add(path+"/permission", "a public route takes no permission in Pilcrow: anyone can call it; remove \"permission\" or \"public\"")
			default:
				pr.Permission = pilcrowRole(level)
				if pr.Permission == manifest.DefaultRoutePermission {
					pr.Permission = ""
				}
			}
		}
		if len(r.CacheControl) > 256 || strings.ContainsAny(r.CacheControl, "\r\n") {
			t.add(path+"/cacheControl", "cacheControl must be one header value of at most 256 bytes")
			continue
		}
		out = append(out, pr)
		meta.Routes = append(meta.Routes, MetaRoute{Name: r.Name, CacheControl: r.CacheControl})
	}
	return out
}

func (t *translator) storage(raw json.RawMessage) map[string]manifest.StorageCollection {
	if len(raw) == 0 || isNull(raw) {
		return nil
	}
	var colls map[string]struct {
		Indexes       []json.RawMessage `json:"indexes"`
		UniqueIndexes []json.RawMessage `json:"uniqueIndexes"`
	}
	if !t.decode("/storage", raw, &colls, "an object of collections {indexes, uniqueIndexes}") {
		return nil
	}
	if len(colls) == 0 {
		return nil
	}
	out := map[string]manifest.StorageCollection{}
	for _, name := range sortedKeys(colls) {
		c := colls[name]
		sc := manifest.StorageCollection{}
		conv := func(kind string, list []json.RawMessage) []manifest.Index {
			var ixs []manifest.Index
			for i, raw := range list {
				var ix manifest.Index
				var one string
				if json.Unmarshal(raw, &one) == nil {
					ix = manifest.Index{one}
				} else if json.Unmarshal(raw, (*[]string)(&ix)) != nil {
					t.add(ptr(ptr(ptr("/storage", name), kind), i), "an index is a field name or an array of field names")
					continue
				}
				ixs = append(ixs, ix)
			}
			return ixs
		}
		sc.Indexes = conv("indexes", c.Indexes)
		sc.UniqueIndexes = conv("uniqueIndexes", c.UniqueIndexes)
		out[name] = sc
	}
	return out
}

type emSetting struct {
	Type        string   `json:"type"`
	Label       string   `json:"label"`
	Description string   `json:"description"`
	Default     any      `json:"default"`
	Multiline   bool     `json:"multiline"`
	Min         *float64 `json:"min"`
	Max         *float64 `json:"max"`
	Placeholder string   `json:"placeholder"`
	Options     []struct {
		Value string `json:"value"`
		Label string `json:"label"`
	} `json:"options"`
}

// knownAdmin are the admin fields; entry, fieldWidgets and
// portableTextBlocks are EmDash's native React admin, refused by name.
var nativeAdmin = map[string]string{
	"entry":              "a React admin entry runs in the admin's browser with the site's privileges; Pilcrow renders plugin admin screens only from Block Kit answers of the \"admin\" route",
	"fieldWidgets":       "field widgets are EmDash's native admin components; Pilcrow's entry editor has no plugin fields",
	"portableTextBlocks": "Portable Text blocks are EmDash's native editor extensions; Pilcrow's editor has no plugin blocks",
}

func (t *translator) admin(raw json.RawMessage, meta *Meta) (*manifest.Admin, []manifest.Setting) {
	if len(raw) == 0 || isNull(raw) {
		return nil, nil
	}
	var fields map[string]json.RawMessage
	if !t.decode("/admin", raw, &fields, "an object") {
		return nil, nil
	}
	for _, k := range sortedKeys(fields) {
		if why, native := nativeAdmin[k]; native {
			if !isNull(fields[k]) && string(bytes.TrimSpace(fields[k])) != "[]" {
				t.add(ptr("/admin", k), "admin.%s is native-only: %s", k, why)
			}
			continue
		}
		if k != "settingsSchema" && k != "pages" && k != "widgets" {
			t.add(ptr("/admin", k), "unknown admin field %q", k)
		}
	}
	var settings []manifest.Setting
	if raw, ok := fields["settingsSchema"]; ok && !isNull(raw) {
		keys, err := objectKeys(raw)
		if err != nil {
			t.add("/admin/settingsSchema", "must be an object of setting fields")
		}
		var schema map[string]emSetting
		if err == nil && t.decode("/admin/settingsSchema", raw, &schema, "an object of setting fields {type, label, …}") {
			for _, k := range keys {
				if s, ok := t.setting(k, schema[k], meta); ok {
					settings = append(settings, s)
				}
			}
		}
	}
	var adm manifest.Admin
	if raw, ok := fields["pages"]; ok && !isNull(raw) {
		var pages []struct {
			Path  string `json:"path"`
			Label string `json:"label"`
			Icon  string `json:"icon"`
		}
		if t.decode("/admin/pages", raw, &pages, "an array of {path, label, icon}") {
			for i, p := range pages {
				if !pilcrowPagePath.MatchString(p.Path) {
					t.add(ptr("/admin/pages", i)+"/path", "page path %q: Pilcrow serves pages at /admin/plugins/<id><path>, where a path is lowercase letters, digits, '/', '_' and '-'", p.Path)
					continue
				}
				// The icon is decoration; Pilcrow's navigation lists labels.
				adm.Pages = append(adm.Pages, manifest.AdminPage{Path: p.Path, Label: p.Label})
			}
		}
	}
	if raw, ok := fields["widgets"]; ok && !isNull(raw) {
		var widgets []struct {
			ID    string `json:"id"`
			Title string `json:"title"`
			Size  string `json:"size"`
		}
		if t.decode("/admin/widgets", raw, &widgets, "an array of {id, title, size}") {
			for _, w := range widgets {
				title := w.Title
				if title == "" {
					title = w.ID // Pilcrow shows every widget under a title
				}
				adm.Widgets = append(adm.Widgets, manifest.AdminWidget{ID: w.ID, Title: title, Size: w.Size})
			}
		}
	}
	if len(adm.Pages)+len(adm.Widgets) == 0 {
		return nil, settings
	}
	return &adm, settings
}

func (t *translator) setting(key string, s emSetting, meta *Meta) (manifest.Setting, bool) {
	path := ptr("/admin/settingsSchema", key)
	if !settingKey.MatchString(key) || len(key) > 64 {
		t.add(path, "setting key %q: Pilcrow setting keys are a letter then letters, digits or '_' (at most 64)", key)
		return manifest.Setting{}, false
	}
	ps := manifest.Setting{Key: key, Label: s.Label, Description: s.Description, Placeholder: s.Placeholder}
	ms := MetaSetting{Key: key, Type: s.Type}
	switch s.Type {
	case "string":
		ps.Type = manifest.SettingString
		if s.Multiline {
			ps.Type = manifest.SettingText
		}
	case "number":
		ps.Type = manifest.SettingNumber
		if s.Min != nil && s.Max != nil && *s.Min > *s.Max {
			t.add(path, "min %v is greater than max %v", *s.Min, *s.Max)
			return ps, false
		}
		// Pilcrow's form has no range; the adapter enforces it where the
		// plugin reads the value (see docs/emdash.md).
		ms.Min, ms.Max = s.Min, s.Max
	case "boolean":
		ps.Type = manifest.SettingBoolean
	case "select":
		ps.Type = manifest.SettingSelect
		for _, o := range s.Options {
			ps.Options = append(ps.Options, manifest.Option{Value: o.Value, Label: o.Label})
		}
	case "secret":
		// EmDash plugins read their secrets (ctx.kv "settings:<key>"), so
		// the secret is exposed to the plugin; the consent screen says so.
		ps.Type, ps.Exposed = manifest.SettingSecret, true
		if s.Default != nil {
			t.add(path+"/default", "a secret takes no default")
			return ps, false
		}
	case "url":
		ps.Type = manifest.SettingURL
	case "email":
		ps.Type = manifest.SettingEmail
	default:
		t.add(path+"/type", "setting type %q is not one of string, number, boolean, select, secret, url, email", s.Type)
		return ps, false
	}
	if s.Type != "number" && (s.Min != nil || s.Max != nil) {
		t.add(path, "min and max apply to number settings only")
		return ps, false
	}
	ps.Default = s.Default
	if s.Type == "number" && s.Default != nil {
		if n, ok := s.Default.(float64); ok && outOfRange(n, s.Min, s.Max) {
			t.add(path+"/default", "default %v is outside min %s / max %s", n, fmtNum(s.Min), fmtNum(s.Max))
			return ps, false
		}
	}
	meta.Settings = append(meta.Settings, ms)
	return ps, true
}

func outOfRange(n float64, min, max *float64) bool {
	return min != nil && n < *min || max != nil && n > *max
}

func fmtNum(f *float64) string {
	if f == nil {
		return "none"
	}
	return strconv.FormatFloat(*f, 'g', -1, 64)
}

func routeIndex(rs []manifest.Route, name string) (int, bool) {
	for i, r := range rs {
		if r.Name == name {
			return i, true
		}
	}
	return 0, false
}

func isNull(raw json.RawMessage) bool {
	s := bytes.TrimSpace(raw)
	return len(s) == 0 || string(s) == "null"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// objectKeys returns a JSON object's keys in document order: the settings
// form shows fields in the order the author wrote them.
func objectKeys(raw json.RawMessage) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("not an object")
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := tok.(string)
		keys = append(keys, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}
