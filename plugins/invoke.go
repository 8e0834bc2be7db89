package plugins

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/sandbox"
)

// Grants turns what a manifest asks for, less any denied capabilities, into
// the sandbox grants of an invocation. settings holds the plugin's setting
// values by key; secrets that are not marked exposed never enter the isolate.
func Grants(m *manifest.Manifest, settings map[string]any, deny []manifest.Capability) sandbox.Grants {
	var g sandbox.Grants
	for _, c := range m.Capabilities {
		if !slices.Contains(deny, c) {
			g.Capabilities = append(g.Capabilities, c)
		}
	}
	g.StorageCollections = m.StorageCollections()
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

// Limits returns the sandbox limits for one invocation of hook (zero Hook for
// routes): the site's, lowered where the manifest asks, and the hook's own
// timeout as its wall time.
func Limits(m *manifest.Manifest, site sandbox.Limits, hook *manifest.Hook) sandbox.Limits {
	d := sandbox.DefaultLimits
	fill := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	if site.CPU <= 0 {
		site.CPU = d.CPU
	}
	if site.Wall <= 0 {
		site.Wall = d.Wall
	}
	if site.MemoryBytes <= 0 {
		site.MemoryBytes = d.MemoryBytes
	}
	fill(&site.Subrequests, d.Subrequests)
	fill(&site.ResultBytes, d.ResultBytes)
	fill(&site.LogBytes, d.LogBytes)
	eff := m.EffectiveLimits(manifest.Limits{
		CPUMs:         int(site.CPU / time.Millisecond),
		WallMs:        int(site.Wall / time.Millisecond),
		MemoryMB:      int(site.MemoryBytes >> 20),
		Subrequests:   site.Subrequests,
		ResponseBytes: site.ResultBytes,
		LogBytes:      site.LogBytes,
	})
	out := site
	out.CPU = time.Duration(eff.CPUMs) * time.Millisecond
	out.Wall = time.Duration(eff.WallMs) * time.Millisecond
	out.MemoryBytes = int64(eff.MemoryMB) << 20
	out.Subrequests = eff.Subrequests
	out.ResultBytes = eff.ResponseBytes
	out.LogBytes = eff.LogBytes
	if hook != nil && hook.TimeoutMs > 0 {
		if d := time.Duration(hook.TimeoutMs) * time.Millisecond; d < out.Wall {
			out.Wall = d
		}
	}
	return out
}
