package manifest

import (
	"fmt"
	"slices"
	"strings"
)

// ChangeKind classifies one difference between two versions of a manifest.
type ChangeKind string

// The change kinds. Escalations are marked in escalating.
const (
	CapabilityAdded   ChangeKind = "capability-added"
	CapabilityRemoved ChangeKind = "capability-removed"
	HostAdded         ChangeKind = "host-added"
	HostBroadened     ChangeKind = "host-broadened"
	HostRemoved       ChangeKind = "host-removed"
	StorageAdded      ChangeKind = "storage-added"
	StorageRemoved    ChangeKind = "storage-removed"
	RouteAdded        ChangeKind = "route-added"
	RouteRemoved      ChangeKind = "route-removed"
	RouteOpened       ChangeKind = "route-opened" // private→public, or a lower role may call it
	RouteRestricted   ChangeKind = "route-restricted"
	HookAdded         ChangeKind = "hook-added"
	HookRemoved       ChangeKind = "hook-removed"
	SecretExposed     ChangeKind = "secret-exposed"
	SecretHidden      ChangeKind = "secret-hidden"
	SecretSent        ChangeKind = "secret-sent" // a secret is injected for a new host or header
	SecretNotSent     ChangeKind = "secret-not-sent"
)

var escalating = map[ChangeKind]bool{
	CapabilityAdded: true, HostAdded: true, HostBroadened: true, StorageAdded: true,
	RouteAdded: true, RouteOpened: true, HookAdded: true, SecretExposed: true, SecretSent: true,
}

// Change is one difference between an installed manifest and an upgrade.
type Change struct {
	Kind ChangeKind `json:"kind"`
	// Escalation is true when the upgrade asks for something the admin has not
	// consented to; such an upgrade must be consented to again before it runs.
	Escalation bool `json:"escalation"`
	// Subject names what changed: a capability, host pattern, collection, route,
	// hook or setting key.
	Subject string `json:"subject"`
	// Line describes the change in plain language.
	Line string `json:"line"`
}

// Escalates reports whether any change asks for more than before.
func Escalates(changes []Change) bool {
	return slices.ContainsFunc(changes, func(c Change) bool { return c.Escalation })
}

// Diff compares the installed manifest with an upgrade. A nil old manifest means
// nothing was granted before, so everything new is an escalation.
func Diff(old, new *Manifest) []Change {
	if old == nil {
		old = &Manifest{}
	}
	if new == nil {
		new = &Manifest{}
	}
	d := differ{}
	d.capabilities(old, new)
	d.hosts(old, new)
	d.storage(old, new)
	d.routes(old, new)
	d.hooks(old, new)
	d.secrets(old, new)
	return d.changes
}

type differ struct{ changes []Change }

func (d *differ) add(kind ChangeKind, subject, format string, args ...any) {
	d.changes = append(d.changes, Change{Kind: kind, Escalation: escalating[kind], Subject: subject, Line: fmt.Sprintf(format, args...)})
}

// capabilities compares what is granted, implications included: replacing
// content:write by content:read removes a grant and adds none.
func (d *differ) capabilities(old, new *Manifest) {
	for _, c := range AllCapabilities() {
		if c == NetworkRequest {
			continue // described host by host below
		}
		was, now := old.Grants(c), new.Grants(c)
		switch {
		case now && !was:
			d.add(CapabilityAdded, string(c), "New: %s", capabilityLine(c))
		case was && !now:
			d.add(CapabilityRemoved, string(c), "No longer: %s", capabilityLine(c))
		}
	}
}

// hostsOf returns the hosts a manifest can actually reach: none without the
// network:request capability.
func hostsOf(m *Manifest) HostSet {
	if !m.Grants(NetworkRequest) {
		return nil
	}
	return m.Hosts()
}

func (d *differ) hosts(old, new *Manifest) {
	before, after := hostsOf(old), hostsOf(new)
	for _, n := range after {
		if before.Covers(n) {
			continue
		}
		i := slices.IndexFunc(before, n.Covers)
		if i >= 0 {
			d.add(HostBroadened, n.String(), "Can now send requests to %s (before: %s)", describeHost(n), describeHost(before[i]))
			continue
		}
		d.add(HostAdded, n.String(), "New: Send requests to %s", describeHost(n))
	}
	for _, o := range before {
		if !after.Covers(o) {
			d.add(HostRemoved, o.String(), "No longer: Send requests to %s", describeHost(o))
		}
	}
	settingHosts := func(m *Manifest) []string {
		if !m.Grants(NetworkRequest) {
			return nil
		}
		return m.HostsFromSettings()
	}
	for _, key := range settingHosts(new) {
		if !slices.Contains(settingHosts(old), key) {
			d.add(HostAdded, "setting:"+key, "New: %s", settingHostLine(new, key))
		}
	}
	for _, key := range settingHosts(old) {
		if !slices.Contains(settingHosts(new), key) {
			d.add(HostRemoved, "setting:"+key, "No longer: %s", settingHostLine(old, key))
		}
	}
}

func (d *differ) storage(old, new *Manifest) {
	for _, n := range new.StorageCollections() {
		if _, ok := old.Storage[n]; !ok {
			d.add(StorageAdded, n, "New: %s", storageLine(n))
		}
	}
	for _, n := range old.StorageCollections() {
		if _, ok := new.Storage[n]; !ok {
			d.add(StorageRemoved, n, "No longer: %s", storageLine(n))
		}
	}
}

// audience ranks who may call a route: higher is wider.
func audience(r Route) int {
	if r.Public {
		return 4
	}
	return map[string]int{"admin": 0, "editor": 1, "author": 2}[r.LeastRole()]
}

func (d *differ) routes(old, new *Manifest) {
	for _, r := range new.Routes {
		o, ok := old.Route(r.Name)
		switch {
		case !ok:
			d.add(RouteAdded, r.Name, "New: %s", routeLine(new.ID, r))
		case audience(r) > audience(o):
			d.add(RouteOpened, r.Name, "Changed: %s", routeLine(new.ID, r))
		case audience(r) < audience(o):
			d.add(RouteRestricted, r.Name, "Changed: %s", routeLine(new.ID, r))
		}
	}
	for _, o := range old.Routes {
		if _, ok := new.Route(o.Name); !ok {
			d.add(RouteRemoved, o.Name, "Removed: the web address %s", o.Path(old.ID))
		}
	}
}

func (d *differ) hooks(old, new *Manifest) {
	for _, h := range AllHooks() {
		_, was := old.Hook(h)
		_, now := new.Hook(h)
		switch {
		case now && !was:
			d.add(HookAdded, string(h), "New: %s", hookLine(new, h))
		case was && !now:
			d.add(HookRemoved, string(h), "No longer: %s", hookLine(&Manifest{}, h))
		}
	}
}

func secretSetting(m *Manifest, key string) (Setting, bool) {
	for _, s := range m.Settings {
		if s.Key == key && s.Type == SettingSecret {
			return s, true
		}
	}
	return Setting{}, false
}

// secrets flags a secret that plugin code can newly read, or that is newly sent to
// a host (or in a header) the admin has not approved it for.
func (d *differ) secrets(old, new *Manifest) {
	for _, s := range new.Settings {
		if s.Type != SettingSecret {
			continue
		}
		o, had := secretSetting(old, s.Key)
		if s.Exposed && !(had && o.Exposed) {
			d.add(SecretExposed, s.Key, "New: %s", exposedLine(s))
		}
		if !s.Exposed && had && o.Exposed {
			d.add(SecretHidden, s.Key, "No longer: %s", exposedLine(o))
		}
		if s.Inject != nil && !sameInjection(o.Inject, s.Inject) {
			host := s.Inject.Host
			if p, err := ParseHostPattern(host); err == nil {
				host = describeHost(p)
			}
			d.add(SecretSent, s.Key, "New: %s", injectLine(s, host))
		}
		if s.Inject == nil && had && o.Inject != nil {
			d.add(SecretNotSent, s.Key, "No longer sends your setting %q to %s", o.Label, o.Inject.Host)
		}
	}
}

// sameInjection reports whether the new binding sends the secret nowhere the old
// one did not: the old host pattern covers the new one and the header is the same.
func sameInjection(old, new *SecretInject) bool {
	if old == nil || new == nil {
		return false
	}
	op, err1 := ParseHostPattern(old.Host)
	np, err2 := ParseHostPattern(new.Host)
	return err1 == nil && err2 == nil && op.Covers(np) && strings.EqualFold(old.HeaderName(), new.HeaderName())
}
