package authoring

import "github.com/pilcrow-cms/pilcrow/manifest"

// TypesForManifest renders pilcrow.d.ts for a parsed manifest: what
// `pilcrow plugin types PATH` writes.
func TypesForManifest(m *manifest.Manifest) ([]byte, error) {
	in := TypesInput{
		ID:                 m.ID,
		Version:            m.Version,
		StorageCollections: m.StorageCollections(),
	}
	for _, c := range m.Capabilities {
		in.Capabilities = append(in.Capabilities, string(c))
	}
	for _, h := range m.Hooks {
		in.Hooks = append(in.Hooks, string(h.Name))
	}
	for _, r := range m.Routes {
		in.Routes = append(in.Routes, r.Name)
	}
	for _, s := range m.Cron {
		in.CronSchedules = append(in.CronSchedules, s.Name)
	}
	for _, s := range m.Settings {
		d := SettingDecl{
			Key:         s.Key,
			Label:       s.Label,
			Description: s.Description,
			Type:        string(s.Type),
			Present:     s.Required || s.Default != nil,
			Exposed:     s.Exposed,
		}
		for _, o := range s.Options {
			d.Options = append(d.Options, o.Value)
		}
		in.Settings = append(in.Settings, d)
	}
	return Types(in)
}
