package plugins

import (
	"bytes"
	"context"
	"fmt"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
)

// InstallDev installs a bundle for `pilcrow plugin dev` on a development
// server: any version replaces the installed one (a forced upload, so a dev
// version "1.0.0-dev.7" may follow "1.0.0"), and unless it already runs it
// is activated with exactly what its manifest asks for, consented by `by`.
// The caller (web, behind `serve --dev`) decides that consent may be
// skipped; nothing here can tell a development server from another.
func (m *Manager) InstallDev(ctx context.Context, data []byte, by string) (*Info, error) {
	info, err := m.Install(ctx, data, by, true)
	if err != nil {
		return nil, err
	}
	if info.Status == StatusActive && info.Upgrade == nil && info.Running == info.Version {
		return info, nil // applied directly: an upgrade asking for nothing new
	}
	// Install read the bundle already; reading it again is cheap and gives
	// the manifest of exactly these bytes.
	b, err := bundle.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("install dev: %w", err)
	}
	want := manifest.Consent(b.Manifest)
	return m.Activate(ctx, info.ID, Grant{Capabilities: want.Capabilities, AllowedHosts: want.AllowedHosts}, by)
}
