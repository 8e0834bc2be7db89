package manifest

import (
	"fmt"
	"slices"
	"strings"
)

// Summary is what the admin consents to, as returned by the HTTP API (SPEC §5:
// "consent": {capabilities, allowedHosts, storage, routes, hooks, lines}).
// Activation must send back exactly Capabilities and AllowedHosts.
type Summary struct {
	// Capabilities as declared, in vocabulary order.
	Capabilities []string `json:"capabilities"`
	// AllowedHosts in canonical spelling (see HostPattern.String), sorted.
	AllowedHosts []string `json:"allowedHosts"`
	// HostsFromSettings are the keys of the url settings whose host the
	// plugin may send requests to, in manifest order.
	HostsFromSettings []string `json:"hostsFromSettings"`
	// Storage collection names, sorted.
	Storage []string `json:"storage"`
	// Routes are the route names, in manifest order.
	Routes []string `json:"routes"`
	// Hooks are the hook names, in vocabulary order.
	Hooks []string `json:"hooks"`
	// Lines describe every grant in plain language, in the order shown to the admin.
	Lines []string `json:"lines"`
}

// grantedCapabilities returns every capability m grants, implied ones included,
// in vocabulary order.
func grantedCapabilities(m *Manifest) []Capability {
	var out []Capability
	for _, c := range AllCapabilities() {
		if m.Grants(c) {
			out = append(out, c)
		}
	}
	return out
}

// Site is what the consent screen says about the site a plugin is being
// activated on, where that changes what a grant means.
type Site struct {
	// MailOff: the site has no mail transport (no --smtp), so email:send
	// grants nothing that works.
	MailOff bool
}

// MailOffNote is added to the email:send line on a site without mail.
const MailOffNote = " — mail is off on this site (no mail transport is configured), so sending fails until an administrator sets --smtp"

// Consent describes everything the manifest asks for.
func Consent(m *Manifest) Summary { return ConsentOn(m, Site{}) }

// ConsentOn is Consent on a particular site: the grants are the same (what
// activation must send back does not depend on it); the lines say what the
// site makes of them.
func ConsentOn(m *Manifest, site Site) Summary {
	s := Summary{
		Capabilities: []string{}, AllowedHosts: []string{}, HostsFromSettings: []string{}, Storage: []string{},
		Routes: []string{}, Hooks: []string{}, Lines: []string{},
	}
	if m == nil {
		return s
	}
	for _, c := range AllCapabilities() {
		if slices.Contains(m.Capabilities, c) {
			s.Capabilities = append(s.Capabilities, string(c))
		}
	}
	hosts := m.Hosts()
	s.AllowedHosts = hosts.Strings()
	slices.Sort(s.AllowedHosts)
	s.Storage = m.StorageCollections()
	for _, r := range m.Routes {
		s.Routes = append(s.Routes, r.Name)
	}
	for _, h := range AllHooks() {
		if _, ok := m.Hook(h); ok {
			s.Hooks = append(s.Hooks, string(h))
		}
	}

	if m.Origin != nil {
		s.Lines = append(s.Lines, m.Origin.Line())
	}
	for _, c := range grantedCapabilities(m) {
		if c == NetworkRequest {
			for _, h := range s.AllowedHosts {
				p, _ := ParseHostPattern(h)
				s.Lines = append(s.Lines, "Send requests to "+describeHost(p))
			}
			for _, key := range m.HostsFromSettings() {
				s.HostsFromSettings = append(s.HostsFromSettings, key)
				s.Lines = append(s.Lines, settingHostLine(m, key))
			}
			continue
		}
		line := capabilityLine(c)
		if c == EmailSend && site.MailOff {
			line += MailOffNote
		}
		s.Lines = append(s.Lines, line)
	}
	s.Lines = append(s.Lines, secretLines(m)...)
	for _, name := range s.Storage {
		s.Lines = append(s.Lines, storageLine(name))
	}
	for _, r := range m.Routes {
		s.Lines = append(s.Lines, routeLine(m.ID, r))
	}
	for _, h := range s.Hooks {
		s.Lines = append(s.Lines, hookLine(m, HookName(h)))
	}
	if l := adminLine(m); l != "" {
		s.Lines = append(s.Lines, l)
	}
	return s
}

// adminLine says what the plugin adds to the admin screens; its pages and
// widgets show only what its admin route answers, to admins.
func adminLine(m *Manifest) string {
	var parts []string
	if n := len(m.AdminPages()); n > 0 {
		parts = append(parts, plural(n, "page", "pages")+" to the admin")
	}
	if n := len(m.AdminWidgets()); n > 0 {
		parts = append(parts, plural(n, "widget", "widgets")+" to the dashboard")
	}
	if parts == nil {
		return ""
	}
	return "Adds " + strings.Join(parts, " and ") + ", shown to admins"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// describeHost says in words what a host pattern reaches, applying the same rule
// as HostPattern.Match: a wildcard does not cover the apex.
func describeHost(p HostPattern) string {
	var s string
	switch {
	case p.Wildcard():
		s = fmt.Sprintf("any subdomain of %s (not %s itself)", p.Host(), p.Host())
	case p.addr.IsValid():
		s = "the address " + p.Host()
	default:
		s = p.Host()
	}
	if p.Port() != 0 {
		s += fmt.Sprintf(" on port %d", p.Port())
	}
	return s
}

func storageLine(name string) string {
	return fmt.Sprintf("Keep its own data in a storage collection %q", name)
}

func routeLine(id string, r Route) string {
	line := routeAudience(id, r)
	if len(r.Redirects) > 0 {
		line += "; it may send visitors on to " + strings.Join(r.Redirects, ", ")
	}
	return line
}

func routeAudience(id string, r Route) string {
	if r.Public {
		return fmt.Sprintf("Adds a PUBLIC web address %s that anyone can call", r.Path(id))
	}
	who := map[string]string{
		"author": "signed-in authors, editors and admins",
		"editor": "signed-in editors and admins",
		"admin":  "signed-in admins",
	}[r.LeastRole()]
	return fmt.Sprintf("Adds a web address %s that %s can call", r.Path(id), who)
}

// capabilityLine is c's consent line from the capability table.
func capabilityLine(c Capability) string {
	s, _ := c.Spec()
	return s.Consent
}

// hookLine is h's consent line from the hook table, naming the manifest's
// schedules for cron.
func hookLine(m *Manifest, h HookName) string {
	s, _ := h.Spec()
	if h != HookCron || len(m.Cron) == 0 {
		return s.Consent
	}
	parts := make([]string, len(m.Cron))
	for i, s := range m.Cron {
		parts[i] = fmt.Sprintf("%q (%s, UTC)", s.Name, s.Schedule)
	}
	return s.Consent + ": " + strings.Join(parts, ", ")
}

func secretLines(m *Manifest) []string {
	var out []string
	for _, s := range m.Settings {
		if s.Type != SettingSecret {
			continue
		}
		if s.Inject != nil {
			host := s.Inject.Host
			if p, err := ParseHostPattern(host); err == nil {
				host = describeHost(p)
			}
			if key := s.Inject.HostFromSetting; key != "" {
				label := key
				if st, ok := m.Setting(key); ok {
					label = st.Label
				}
				host = fmt.Sprintf("the address you enter in %q", label)
			}
			out = append(out, injectLine(s, host))
		}
		if s.Exposed {
			out = append(out, exposedLine(s))
		}
	}
	return out
}

// settingHostLine is the consent line of one allowedHostsFromSettings key.
func settingHostLine(m *Manifest, key string) string {
	label := key
	if st, ok := m.Setting(key); ok {
		label = st.Label
	}
	return fmt.Sprintf("Send requests to the address you enter in %q", label)
}

func injectLine(s Setting, host string) string {
	return fmt.Sprintf("Sends your setting %q to %s in the %s header; the plugin's code cannot read it", s.Label, host, s.Inject.HeaderName())
}

func exposedLine(s Setting) string {
	return fmt.Sprintf("The plugin can read your secret setting %q", s.Label)
}
