package examples

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/plugins"
	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/sandbox/egress"
	"github.com/pilcrow-cms/pilcrow/storage"
)

// site is a test site that outlives one invocation, for what
// plugins.RunLocal cannot do: RunLocal builds a fresh database for every call
// (so a route cannot read what an earlier hook stored) and its own egress
// client (so no custom RootCAs for an https test server). It wires the same
// pieces RunLocal does — the real plugins host, storage, egress client,
// grants and limits — around a database and an egress client it keeps.
type site struct {
	data    *storage.PluginData
	egress  *egress.Client
	content plugins.ContentAPI
}

func newSite(t testing.TB, eg egress.Options, content plugins.ContentAPI) *site {
	t.Helper()
	db, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "pilcrow.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	eg.Logger = slog.New(slog.DiscardHandler)
	return &site{data: storage.NewPluginData(db), egress: egress.New(eg), content: content}
}

// run invokes a hook or route of the plugin m (script built from ex) on s.
func (s *site) run(t testing.TB, ex *example, m *manifest.Manifest, kind, name string, event []byte, settings map[string]any, secrets map[string]string) (*sandbox.Result, error) {
	t.Helper()
	if m == nil {
		m = ex.manifest
	}
	var hook *manifest.Hook
	if kind == sandbox.KindHook {
		h, ok := m.Hook(manifest.HookName(name))
		if !ok {
			t.Fatalf("hook %s not declared", name)
		}
		hook = &h
	}
	// The indexes of the manifest's storage, as an install builds them.
	if err := s.data.SyncIndexes(context.Background(), m.ID, plugins.StorageCollections(m), true); err != nil {
		t.Fatal(err)
	}
	svc := &plugins.Services{Data: s.data, Egress: s.egress, Content: s.content}
	inv := &sandbox.Invocation{
		PluginID: m.ID, Version: m.Version, Script: ex.script,
		Kind: kind, Name: name, Event: event,
		Grants: plugins.GrantsFor(m, settings, nil),
		Limits: plugins.LimitsFor(m, testSiteLimits, hook),
	}
	host := svc.Bind(&plugins.Plugin{Manifest: m, Capabilities: inv.Grants.Capabilities, Secrets: secrets, Settings: settings}, nil)
	return testPool(t).Invoke(context.Background(), inv, host)
}

// routeRequest is the JSON request the handler of route receives.
func routeRequest(t *testing.T, method, route string, query map[string]string) []byte {
	t.Helper()
	if query == nil {
		query = map[string]string{} // the server always sends an object
	}
	b, err := json.Marshal(map[string]any{"method": method, "path": route, "query": query, "headers": map[string]string{}, "body": nil})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
