package plugins

import (
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
