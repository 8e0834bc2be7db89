package plugins

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/sandbox"
)

// GrantsFor turns what a manifest asks for, less any denied capabilities,
// into the sandbox grants of an invocation. settings holds the plugin's
// setting values by key; secrets that are not marked exposed never enter the
// isolate.
func GrantsFor(m *manifest.Manifest, settings map[string]any, deny []manifest.Capability) sandbox.Grants {
	var g sandbox.Grants
	for _, c := range m.Capabilities {
		if !slices.Contains(deny, c) {
			g.Capabilities = append(g.Capabilities, c)
		}
	}
	g.StorageCollections = m.StorageCollections()
	g.Hooks = m.HookNames()
	visible := map[string]any{}
	for _, s := range m.Settings {
		if !s.VisibleToPlugin() {
			continue
		}
		if v, ok := settings[s.Key]; ok {
			visible[s.Key] = v
		} else if s.Default != nil {
			visible[s.Key] = s.Default
		}
	}
	g.Settings, _ = json.Marshal(visible) // values came from JSON; they marshal
	return g
}

// LimitsFor returns the sandbox limits for one invocation of hook (nil for
// routes): the site's (zero fields: the defaults), lowered where the manifest
// asks, and the hook's own timeout as its wall time. Limits a manifest cannot
// ask for stay as the site set them.
func LimitsFor(m *manifest.Manifest, site sandbox.Limits, hook *manifest.Hook) sandbox.Limits {
	ms := func(d time.Duration) int { return int(d / time.Millisecond) }
	siteLimits := manifest.Limits{
		CPUMs:         ms(site.CPU),
		WallMs:        ms(site.Wall),
		MemoryMB:      int(site.MemoryBytes >> 20),
		Subrequests:   site.Subrequests,
		ResponseBytes: site.ResultBytes,
		LogBytes:      site.LogBytes,
	}.WithDefaults()
	eff := m.EffectiveLimits(siteLimits)
	if hook != nil {
		eff.WallMs = m.HookTimeoutMs(*hook, siteLimits)
	}
	out := site
	out.CPU = time.Duration(eff.CPUMs) * time.Millisecond
	out.Wall = time.Duration(eff.WallMs) * time.Millisecond
	out.MemoryBytes = int64(eff.MemoryMB) << 20
	out.Subrequests = eff.Subrequests
	out.ResultBytes = eff.ResponseBytes
	out.LogBytes = eff.LogBytes
	return out
}

// invocationSetup is what every invocation of one running version with one
// reading of its stored settings derives from them: the visible values, the
// opened secrets, the grants (whose settings JSON is encoded here, once) and
// the limits of each hook. It lives in the settings cache entry it was
// derived from, so a settings change (UpdateSettings in this process at
// once, another process's within settingsTTL) and an upgrade (another
// manifest) derive it again. Everything in it is shared by concurrent
// invocations and read only.
type invocationSetup struct {
	// sha is the running version's bundle hash, which fixes its manifest
	// and the hook options its script exports.
	sha     string
	visible map[string]any
	secrets map[string]string
	grants  sandbox.Grants
	// limits are each declared hook's; other invocations (routes,
	// lifecycle hooks the manifest does not declare) take otherLimits.
	limits      map[string]sandbox.Limits
	otherLimits sandbox.Limits
}

func (s *invocationSetup) limitsOf(kind, name string) sandbox.Limits {
	if kind == sandbox.KindHook {
		if l, ok := s.limits[name]; ok {
			return l
		}
	}
	return s.otherLimits
}

// setup returns ap's invocation setup, deriving it on the first invocation
// after its settings were (re)read.
func (m *Manager) setup(ctx context.Context, ap *ActivePlugin) (*invocationSetup, error) {
	c, err := m.cachedSettingRows(ctx, ap.ID)
	if err != nil {
		return nil, err
	}
	if s := c.setup; s != nil && s.sha == ap.SHA256 {
		return s, nil
	}
	visible, secrets, err := m.decodeSettings(ap.ID, ap.Manifest, c.rows)
	if err != nil {
		return nil, err
	}
	s := &invocationSetup{sha: ap.SHA256, visible: visible, secrets: secrets,
		grants: GrantsFor(ap.Manifest, visible, nil), limits: map[string]sandbox.Limits{},
		otherLimits: LimitsFor(ap.Manifest, m.limits, nil)}
	for _, name := range ap.Manifest.HookNames() {
		if h, ok := ap.Hook(name); ok {
			s.limits[string(name)] = LimitsFor(ap.Manifest, m.limits, &h)
		}
	}
	m.settingsMu.Lock()
	// Kept only while the entry is the one it was derived from: rows read
	// meanwhile (or forgotten by a settings change) must derive it again.
	if cur, ok := m.settingsCache[ap.ID]; ok && cur.at.Equal(c.at) {
		cur.setup = s
		m.settingsCache[ap.ID] = cur
	}
	m.settingsMu.Unlock()
	return s, nil
}
